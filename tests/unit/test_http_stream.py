"""Server-Sent Events for the widget and the dashboard, against a real server process."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.http_server import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    RunningServer,
    serve_process,
    server_sent_events,
)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """A real `lucine serve` on SQLite for this module, with keep-alives every second."""
    env = {"LUCINE_STREAM_KEEPALIVE_SECONDS": "1"}
    with serve_process(admin=True, env=env) as running:
        yield running


def _login(server: RunningServer) -> dict[str, str]:
    response = httpx.post(
        f"{server.url}/api/operators/login",
        json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _events(response: httpx.Response, wanted: int) -> list[tuple[str, dict[str, object]]]:
    return list(itertools.islice(server_sent_events(response), wanted))


def test_stream_announces_new_messages(server: RunningServer) -> None:
    """A widget listening on its chat's stream hears of a new message at once."""
    chat = httpx.post(f"{server.url}/api/chat", json={"message": "ciao"}, timeout=10).json()
    sid = chat["sessionId"]
    received: list[tuple[str, dict[str, object]]] = []
    opened = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{server.url}/api/chat/stream/{sid}", timeout=15) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            opened.set()
            received.extend(_events(response, 3))

    listener = threading.Thread(target=listen)
    listener.start()
    assert opened.wait(10)
    # The "ready" event is sent first; give the subscription a moment to be in place.
    reply = httpx.post(
        f"{server.url}/api/chat", json={"message": "parcheggio?", "sessionId": sid}, timeout=10
    )
    assert reply.status_code == 200
    listener.join(15)
    kinds = [kind for kind, _ in received]
    assert kinds[0] == "ready"
    assert "message" in kinds[1:]
    seqs = [data.get("seq") for kind, data in received if kind == "message"]
    assert set(seqs) <= {3, 4}, seqs


def test_stream_of_an_unknown_chat_is_404(server: RunningServer) -> None:
    """Nobody can listen to a chat whose id the server never issued."""
    response = httpx.get(f"{server.url}/api/chat/stream/made-up", timeout=10)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_operators_stream_needs_a_token(server: RunningServer) -> None:
    """Without a token, or with a made-up one, the dashboard's stream is 401."""
    url = f"{server.url}/api/operators/stream"
    assert httpx.get(url, timeout=10).status_code == 401
    bad = {"Authorization": "Bearer nonsense"}
    assert httpx.get(url, headers=bad, timeout=10).status_code == 401


def test_operators_stream_announces_chats_and_ends_when_the_token_is_revoked(
    server: RunningServer,
) -> None:
    """The dashboard hears of a visitor's message at once; after logout it gets "revoked"."""
    headers = _login(server)
    received: list[tuple[str, dict[str, object]]] = []
    opened = threading.Event()

    def listen() -> None:
        url = f"{server.url}/api/operators/stream"
        with httpx.stream("GET", url, headers=headers, timeout=15) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            opened.set()
            received.extend(server_sent_events(response))

    listener = threading.Thread(target=listen)
    listener.start()
    assert opened.wait(10)
    chat = httpx.post(f"{server.url}/api/chat", json={"message": "ciao"}, timeout=10).json()
    for _ in range(100):
        if any(kind == "message" for kind, _ in received):
            break
        threading.Event().wait(0.05)
    assert ("message", {"sessionId": chat["sessionId"]}) in received
    logout = httpx.post(f"{server.url}/api/operators/logout", headers=headers, timeout=10)
    assert logout.status_code in (200, 204)
    listener.join(10)
    assert not listener.is_alive()
    assert received[0][0] == "ready"
    assert received[-1][0] == "revoked"
