"""Server-Sent Events for the widget, against a real server process (SSE cannot be buffered)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.http_server import RunningServer, serve_process


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """A real `lucine serve` on SQLite for this module."""
    with serve_process(admin=False) as running:
        yield running


def _events(response: httpx.Response, wanted: int) -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    kind = ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            found.append((kind, json.loads(line.split(":", 1)[1])))
            if len(found) >= wanted:
                break
    return found


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
