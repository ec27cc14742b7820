"""Two `lucine serve` processes on one Postgres, as behind a load balancer, no Redis.

A widget's stream on one server hears what was sent through the other (LISTEN/NOTIFY),
and a visitor's rate limit counts their messages to both (the database's counters).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.databases import empty_postgres
from tests.http_server import RunningServer, serve_process, server_sent_events

LIMIT = 6


@contextmanager
def two_servers(url: str, env: dict[str, str] | None = None) -> Iterator[tuple[RunningServer, ...]]:
    """Two servers on the emptied database ``url``."""
    empty_postgres(url)
    with (
        serve_process(database_url=url, admin=False, env=env) as first,
        serve_process(database_url=url, admin=False, env=env) as second,
    ):
        yield first, second


def test_a_message_through_one_server_reaches_a_stream_on_another(postgres_url: str) -> None:
    """Two servers on one Postgres: a stream on B hears a message sent through A.

    Within a second of A's answer, through LISTEN/NOTIFY (no Redis).
    """
    with two_servers(postgres_url) as (first, second):
        chat = httpx.post(f"{first.url}/api/chat", json={"message": "ciao"}, timeout=10).json()
        sid = chat["sessionId"]
        heard: dict[str, float] = {}
        ready = threading.Event()

        def listen() -> None:
            url = f"{second.url}/api/chat/stream/{sid}"
            with httpx.stream("GET", url, timeout=15) as response:
                for kind, _ in server_sent_events(response):
                    if kind == "ready":
                        ready.set()
                    elif kind == "message":
                        heard.setdefault("at", time.monotonic())
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert ready.wait(10)
        reply = httpx.post(
            f"{first.url}/api/chat", json={"message": "parcheggio?", "sessionId": sid}, timeout=10
        )
        answered = time.monotonic()
        assert reply.status_code == 200, reply.text
        listener.join(5)
        assert "at" in heard, "the stream on the other server heard nothing"
        assert heard["at"] - answered < 1.0


def test_the_chat_rate_limit_holds_across_both_servers(postgres_url: str) -> None:
    """LIMIT messages a minute per visitor, wherever the balancer sends each one."""
    env = {"LUCINE_CHAT_LIMIT_PER_MINUTE": str(LIMIT), "LUCINE_EMBEDDINGS": "off"}
    with two_servers(postgres_url, env) as servers:
        if time.time() % 60 > 50:  # the counters are per minute: start in a fresh one
            time.sleep(61 - time.time() % 60)
        session_id = None
        statuses = []
        for server in itertools.islice(itertools.cycle(servers), LIMIT + 2):
            body = {"message": f"domanda {len(statuses)}", "sessionId": session_id}
            response = httpx.post(f"{server.url}/api/chat", json=body, timeout=10)
            statuses.append(response.status_code)
            if response.status_code == 200:
                session_id = response.json()["sessionId"]
    assert statuses == [200] * LIMIT + [429, 429], statuses
