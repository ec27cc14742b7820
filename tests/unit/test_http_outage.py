"""A Postgres outage seen from outside: readiness says so at once, and it all comes back.

A real `lucine serve` on a Postgres cluster of the test's own; the cluster is stopped
(immediate, as in a crash) and started again while the server keeps running, its port is
taken over by a listener that accepts connections and never answers (a route that drops
packets), or its processes are frozen with their connections open (a hung host).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import httpx

from tests.http_server import serve_process
from tests.pg_cluster import PostgresCluster

REQUEST_TIMEOUT = 5.0  # no request may hang longer than this during the outage
DETECTION = 15.0  # health reports the database down within this
RECOVERY = 30.0  # and healthy again within this once Postgres is back


def _until(deadline: float, probe: httpx.Client, expected: int) -> httpx.Response:
    """GET /api/health until it answers ``expected``; the last response."""
    end = time.monotonic() + deadline
    while True:
        started = time.monotonic()
        response = probe.get("/api/health")
        assert time.monotonic() - started < REQUEST_TIMEOUT, "health hung"
        if response.status_code == expected or time.monotonic() > end:
            return response
        time.sleep(0.2)


def _check_down_in_time(client: httpx.Client) -> None:
    """One health probe: 503 with the database unavailable, in time; liveness still 200."""
    started = time.monotonic()
    down = client.get("/api/health")
    assert time.monotonic() - started < REQUEST_TIMEOUT
    assert down.status_code == 503, down.text
    assert down.json()["database"] == "unavailable"
    assert client.get("/api/health/live").status_code == 200


def test_health_reports_a_postgres_outage_and_the_recovery(pg_cluster: PostgresCluster) -> None:
    """Postgres down: 503, database "unavailable", liveness 200; back: healthy, chats work.

    Lucine is not restarted in between.
    """
    with (
        serve_process(database_url=pg_cluster.url, admin=False) as server,
        httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as client,
    ):
        healthy = client.get("/api/health")
        assert healthy.status_code == 200, healthy.text
        assert healthy.json()["database"] == "ok"

        pg_cluster.stop()
        down = _until(DETECTION, client, 503)
        assert down.status_code == 503, down.text
        assert down.json()["database"] == "unavailable"
        assert down.json()["status"] == "unhealthy"
        assert client.get("/api/health/live").status_code == 200
        refused = client.post("/api/chat", json={"message": "ciao"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "service_unavailable", refused.text

        pg_cluster.start()
        back = _until(RECOVERY, client, 200)
        assert back.status_code == 200, back.text
        assert back.json()["database"] == "ok"
        chat = client.post("/api/chat", json={"message": "a che ora aprite?"})
        assert chat.status_code == 200, chat.text
        assert chat.json()["reply"]


@contextlib.contextmanager
def silent_listener(port: int) -> Iterator[None]:
    """127.0.0.1:``port`` accepts TCP connections (the kernel does) and never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        yield


def test_health_answers_while_postgres_is_silent(pg_cluster: PostgresCluster) -> None:
    """A database that accepts connections and never answers: health is 503 in seconds.

    Connecting is bounded (connect_timeout), so no request waits for TCP to give up.
    """
    with (
        serve_process(database_url=pg_cluster.url, admin=False) as server,
        httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as client,
    ):
        assert client.get("/api/health").status_code == 200
        pg_cluster.stop()
        with silent_listener(pg_cluster.port):
            _check_down_in_time(client)
        pg_cluster.start()
        back = _until(RECOVERY, client, 200)
        assert back.status_code == 200, back.text
        assert back.json()["database"] == "ok"


def test_health_answers_while_postgres_is_frozen(pg_cluster: PostgresCluster) -> None:
    """Postgres frozen (SIGSTOP) with the pool's connections open: 503 within seconds.

    Not a probe that hangs on a socket nobody reads; thawed, it is healthy again.
    """
    with (
        serve_process(database_url=pg_cluster.url, admin=False) as server,
        httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as client,
    ):
        assert client.get("/api/health").status_code == 200
        pg_cluster.freeze()
        try:
            _check_down_in_time(client)
        finally:
            pg_cluster.thaw()
        back = _until(RECOVERY, client, 200)
        assert back.status_code == 200, back.text
        assert back.json()["database"] == "ok"
