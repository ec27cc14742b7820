"""Faults under load, against real processes: nothing acknowledged is ever lost.

Visitors keep sending messages to a real `lucine serve` while its Postgres (a cluster of
the test's own) is stopped and started again, or while one of its workers is killed.
Every message answered with a 2xx must be in the database afterwards; during the outage
requests fail fast with 503; the service comes back by itself. The outage lasts 3 s here
and 10 s in `nox -s stress`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
import httpx
import psycopg

from tests.databases import empty_postgres, plain_url
from tests.http_server import serve_process
from tests.lengths import repetitions
from tests.pg_cluster import PostgresCluster
from tests.redis_server import own_redis

CLIENTS = 4
REQUEST_BOUND = 5.0  # no request may take longer, outage or not
OUTAGE = repetitions("LUCINE_OUTAGE_SECONDS", dev=3, ci=3, stress=10)
LOAD_ENV = {
    "LUCINE_CHAT_LIMIT_PER_MINUTE": "100000",
    "LUCINE_NEW_SESSIONS_PER_HOUR": "100000",
    "LUCINE_EMBEDDINGS": "off",
}


@attrs.define
class Load:
    """What the visitors sent and what they were told."""

    acked: set[str] = attrs.field(factory=set)
    statuses: Counter[int] = attrs.field(factory=Counter)
    codes: Counter[str] = attrs.field(factory=Counter)
    slowest: float = 0.0
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def record(self, text: str, response: httpx.Response | None, seconds: float) -> None:
        """Count one request's outcome; a 2xx makes ``text`` acknowledged."""
        with self.lock:
            self.slowest = max(self.slowest, seconds)
            if response is None:
                self.statuses[0] += 1
                return
            self.statuses[response.status_code] += 1
            if response.is_success:
                self.acked.add(text)
            else:
                self.codes[str(response.json().get("code"))] += 1


def _visitor(url: str, name: str, load: Load, stop: threading.Event) -> None:
    session_id: str | None = None
    with httpx.Client(base_url=url, timeout=REQUEST_BOUND * 2) as client:
        for n in range(100_000):
            if stop.is_set():
                return
            text = f"{name} messaggio {n}"
            started = time.monotonic()
            try:
                response = client.post("/api/chat", json={"message": text, "sessionId": session_id})
            except httpx.TransportError:
                response = None
            load.record(text, response, time.monotonic() - started)
            if response is not None and response.is_success:
                session_id = response.json()["sessionId"]
            time.sleep(0.02)


def _stored(url: str) -> set[str]:
    with psycopg.connect(plain_url(url)) as conn:
        rows = conn.execute("SELECT text FROM messages WHERE sender = 'USER'").fetchall()
    return {str(text) for (text,) in rows}


@contextmanager
def visitors(url: str) -> Iterator[Load]:
    """CLIENTS visitors writing to ``url`` for the duration of the block; what they saw."""
    load = Load()
    stop = threading.Event()
    threads = [
        threading.Thread(target=_visitor, args=(url, f"v{n}", load, stop), daemon=True)
        for n in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    try:
        yield load
    finally:
        stop.set()
        for thread in threads:
            thread.join(REQUEST_BOUND * 3)


def test_a_postgres_outage_under_load_loses_no_acknowledged_message(
    pg_cluster: PostgresCluster,
) -> None:
    """Acked before, during and after the outage: all stored; failures are quick 503s."""
    with serve_process(database_url=pg_cluster.url, admin=False, env=LOAD_ENV) as server:
        with visitors(server.url) as load:
            time.sleep(2)
            before = len(load.acked)
            pg_cluster.stop()
            time.sleep(OUTAGE)
            during = load.statuses[503]
            pg_cluster.start()
            recovered_by = time.monotonic() + 30
            while len(load.acked) <= before + CLIENTS * 5 and time.monotonic() < recovered_by:
                time.sleep(0.2)
            time.sleep(1)
        log = server.output()
    found = _stored(pg_cluster.url)
    lost = load.acked - found
    print(
        f"\nacked {len(load.acked)}, found {len(load.acked & found)}, lost {len(lost)};"
        f" statuses {dict(load.statuses)}; slowest request {load.slowest:.2f} s"
    )
    assert before > 0, "nothing was acknowledged before the outage"
    assert during > 0, "the outage answered no 503"
    assert len(load.acked) > before + CLIENTS * 5, "the service did not come back"
    assert not lost, sorted(lost)[:10]
    assert set(load.codes) <= {"service_unavailable"}, (load.codes, log[-6000:])
    assert load.statuses[0] == 0, "a request got no answer at all"
    assert load.slowest < REQUEST_BOUND, load.slowest


def test_a_worker_killed_under_load_is_replaced_and_loses_nothing(postgres_url: str) -> None:
    """SIGKILL one of two workers mid-load: the other serves on, a new one takes its place.

    Every acknowledged message is stored; only the killed worker's requests may fail.
    """
    empty_postgres(postgres_url)
    with serve_process(database_url=postgres_url, admin=False, env=LOAD_ENV, workers=2) as server:
        deadline = time.monotonic() + 30
        while len(workers := server.workers()) < 2:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.2)
        with visitors(server.url) as load:
            time.sleep(2)
            victim = min(workers)
            os.kill(victim, signal.SIGKILL)
            killed_at = len(load.acked)
            deadline = time.monotonic() + 30
            while (
                len(server.workers() - {victim}) < 2 or len(load.acked) < killed_at + CLIENTS * 10
            ):
                assert time.monotonic() < deadline, (load.statuses, server.output()[-3000:])
                time.sleep(0.2)
            replaced = server.workers() - workers
    found = _stored(postgres_url)
    lost = load.acked - found
    print(
        f"\nacked {len(load.acked)}, found {len(load.acked & found)}, lost {len(lost)};"
        f" statuses {dict(load.statuses)}; replaced by {sorted(replaced)}"
    )
    assert replaced, "the killed worker was not replaced"
    assert not lost, sorted(lost)[:10]
    assert set(load.statuses) <= {0, 200}, load.statuses
    assert load.statuses[0] <= CLIENTS, "more requests failed than the killed worker held"


def test_redis_stopped_while_configured_degrades_without_a_5xx() -> None:
    """REDIS_URL set and Redis gone: chats and streams go on (per process), no 5xx."""
    with own_redis() as (port, start, stop):
        start()
        env = {**LOAD_ENV, "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
        with (
            serve_process(admin=False, env=env) as server,
            httpx.Client(base_url=server.url, timeout=REQUEST_BOUND) as client,
        ):
            first = client.post("/api/chat", json={"message": "ciao"})
            assert first.status_code == 200, first.text
            sid = first.json()["sessionId"]
            stop()
            statuses: Counter[int] = Counter()
            for n in range(10):
                body = {"message": f"ci sei {n}?", "sessionId": sid}
                statuses[client.post("/api/chat", json=body).status_code] += 1
            with client.stream("GET", f"/api/chat/stream/{sid}") as stream:
                statuses[stream.status_code] += 1
                assert next(stream.iter_lines()).startswith("event: ready")
            log = server.output()
    assert statuses == Counter({200: 11}), (statuses, log[-3000:])
    assert "per process" in log
