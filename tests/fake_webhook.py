"""A webhook receiver on 127.0.0.1 that checks Lucine's signature the way a shop would.

The check is written here from the README's description, independently of the adapter:
``X-Lucine-Signature`` must be ``sha256=`` and the hex HMAC-SHA256 of
``f"{X-Lucine-Timestamp}.{raw body}"`` under the shared secret, and the timestamp at most
five minutes old. A request that fails it gets 401. Tests queue other answers (a status,
a delay, a redirect); every request is recorded, with whether its signature held.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import attrs

from tests.local_http import serve_locally

__all__ = ["MAX_AGE", "Received", "Reply", "WebhookReceiver", "verify", "webhook_receiver"]

MAX_AGE = 300
"""Seconds a signed request stays acceptable."""


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, now: float) -> bool:
    """Whether a request is genuine and fresh (what the shop's receiver would do)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_AGE:
        return False
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, f"sha256={mac}")


@attrs.define(kw_only=True)
class Reply:
    """One scripted answer: a status, after an optional delay, with optional headers."""

    status: int = 204
    delay: float = 0.0
    headers: dict[str, str] = attrs.Factory(dict)


@attrs.frozen(kw_only=True)
class Received:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    genuine: bool
    status: int

    @property
    def json(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body)


@attrs.define
class WebhookReceiver:
    """The running receiver: its URL, secret, queued replies and what it received."""

    url: str
    secret: bytes
    replies: deque[Reply] = attrs.Factory(deque)
    received: list[Received] = attrs.Factory(list)
    always: Reply | None = None

    def then(self, *replies: Reply) -> None:
        """Answer the next requests with these, in order (then 204 again)."""
        self.replies.extend(replies)


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            genuine = verify(
                receiver.secret,
                headers.get("x-lucine-timestamp", ""),
                body,
                headers.get("x-lucine-signature", ""),
                time.time(),
            )
            reply = receiver.replies.popleft() if receiver.replies else receiver.always
            reply = reply or Reply()
            status = reply.status if genuine else 401
            receiver.received.append(
                Received(path=self.path, headers=headers, body=body, genuine=genuine, status=status)
            )
            if reply.delay:
                time.sleep(reply.delay)
            try:
                self.send_response(status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

    return Handler


@contextmanager
def webhook_receiver(secret: bytes) -> Iterator[WebhookReceiver]:
    """Run a receiver on a free port of 127.0.0.1 for the duration of the block."""
    receiver = WebhookReceiver(url="", secret=secret)
    with serve_locally(_handler(receiver)) as base:
        receiver.url = f"{base}/hooks/lucine"
        yield receiver
