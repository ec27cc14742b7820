"""A small OpenAI-compatible ``/v1/embeddings`` server on 127.0.0.1, scripted by tests.

By default it embeds like a bag of words: each content word of the input (its first
five letters) is hashed to one of 1024 dimensions, so texts sharing words are close
and unrelated texts are not (enough to rank a small knowledge base). Tests queue
other behaviours: an HTTP error, a raw body, a delay longer than the client's
timeout. Every request body is recorded.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import attrs

from lucine_adapters.kb.analysis import content_words
from tests.local_http import serve_locally

__all__ = ["FakeEmbeddings", "Reply", "fake_embeddings"]

WIDTH = 1024


@attrs.define(kw_only=True)
class Reply:
    """One scripted response: a status, a raw body, a delay."""

    status: int = 200
    body: bytes | None = None
    delay: float = 0.0


def bag_of_words(text: str) -> list[float]:
    """The fake model's vector of ``text`` (not normalised; the client normalises)."""
    vector = [0.0] * WIDTH
    for word in content_words(text):
        vector[int(hashlib.sha256(word[:5].encode()).hexdigest(), 16) % WIDTH] += 1.0
    return vector


@attrs.define
class FakeEmbeddings:
    """The running fake: its URL, the queued replies, the requests it received."""

    url: str
    replies: deque[Reply] = attrs.Factory(deque)
    requests: list[dict[str, Any]] = attrs.Factory(list)

    def then(self, *replies: Reply) -> None:
        """Answer the next requests with these, in order (then normally again)."""
        self.replies.extend(replies)


def _handler(fake: FakeEmbeddings) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append(body)
            reply = fake.replies.popleft() if fake.replies else Reply()
            if reply.delay:
                time.sleep(reply.delay)
            if reply.body is not None:
                payload = reply.body
            elif reply.status != 200:
                payload = json.dumps({"error": {"message": "scripted", "type": "x"}}).encode()
            else:
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                payload = json.dumps(
                    {
                        "object": "list",
                        "model": body.get("model", "fake"),
                        "data": [
                            {"object": "embedding", "index": i, "embedding": bag_of_words(t)}
                            for i, t in enumerate(texts)
                        ],
                        "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    }
                ).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

    return Handler


@contextmanager
def fake_embeddings() -> Iterator[FakeEmbeddings]:
    """Run the fake on a free port of 127.0.0.1 for the duration of the block."""
    fake = FakeEmbeddings(url="")
    with serve_locally(_handler(fake)) as base:
        fake.url = f"{base}/v1"
        yield fake
