"""A small stand-in for Twilio's Messages API on 127.0.0.1, scripted by tests.

It accepts ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with HTTP Basic auth and a
form body, answers 201 with a message resource like Twilio's, and records each request.
Tests queue other answers: a status with Twilio's error JSON (``code``), or a delay.
"""

from __future__ import annotations

import base64
import json
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

import attrs

from tests.local_http import serve_locally

__all__ = ["ACCOUNT_SID", "AUTH_TOKEN", "FakeTwilio", "Sent", "TwilioReply", "fake_twilio"]

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-not-a-real-one"


@attrs.define(kw_only=True)
class TwilioReply:
    """One scripted answer: a status and Twilio error code, after an optional delay."""

    status: int = 201
    code: int | None = None
    delay: float = 0.0


@attrs.frozen(kw_only=True)
class Sent:
    """One request as it arrived: path, credentials, form fields."""

    path: str
    user: str
    password: str
    content_type: str
    form: dict[str, str]
    status: int


@attrs.define
class FakeTwilio:
    """The running fake: its base URL, queued replies and the requests it received."""

    url: str
    replies: deque[TwilioReply] = attrs.Factory(deque)
    requests: list[Sent] = attrs.Factory(list)
    always: TwilioReply | None = None

    def then(self, *replies: TwilioReply) -> None:
        """Answer the next requests with these, in order (then 201 again)."""
        self.replies.extend(replies)


def _credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    return user, password


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            form = {key: values[0] for key, values in parse_qs(raw).items()}
            user, password = _credentials(self.headers.get("Authorization", ""))
            reply = fake.replies.popleft() if fake.replies else fake.always
            reply = reply or TwilioReply()
            if (user, password) != (ACCOUNT_SID, AUTH_TOKEN):
                reply = TwilioReply(status=401, code=20003)
            fake.requests.append(
                Sent(
                    path=self.path,
                    user=user,
                    password=password,
                    content_type=self.headers.get("Content-Type", ""),
                    form=form,
                    status=reply.status,
                )
            )
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status < 300:
                body: dict[str, Any] = {"sid": "SM" + "0" * 32, "status": "queued", **form}
            else:
                # Twilio's error messages quote the numbers; the adapter must not log them.
                message = f"The 'To' number {form.get('To')} is not valid."
                body = {"code": reply.code, "message": message, "status": reply.status}
            payload = json.dumps(body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    """Run the fake on a free port of 127.0.0.1 for the duration of the block."""
    fake = FakeTwilio(url="")
    with serve_locally(_handler(fake)) as base:
        fake.url = f"{base}"
        yield fake
