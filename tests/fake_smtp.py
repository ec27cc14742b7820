"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it is sent, scripted by tests.

Each connection's MAIL FROM counts as one attempt. Tests queue replies to MAIL or RCPT
(``451 ...`` to ask for a retry, ``550 ...`` to refuse for good); otherwise it accepts.
"""

from __future__ import annotations

import email
import email.policy
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

import attrs
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.http_server import free_port

__all__ = ["Captured", "FakeSmtp", "fake_smtp"]


@attrs.frozen(kw_only=True)
class Captured:
    """One accepted message: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes


@attrs.define
class FakeSmtp:
    """The running server: where it listens, its scripts and what it accepted."""

    host: str
    port: int
    messages: list[Captured] = attrs.Factory(list)
    mail_replies: deque[str] = attrs.Factory(deque)
    rcpt_replies: deque[str] = attrs.Factory(deque)
    attempts: int = 0
    logins: list[tuple[str, str]] = attrs.Factory(list)

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.attempts += 1
        reply = self.mail_replies.popleft() if self.mail_replies else "250 OK"
        if reply.startswith("250"):
            envelope.mail_from = address
            envelope.mail_options.extend(options)
        return reply

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.popleft() if self.rcpt_replies else "250 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = bytes(envelope.original_content or envelope.content)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(
            Captured(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                message=message,
                raw=raw,
            )
        )
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        """Accept any login and remember it (for the login test)."""
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=True)


@contextmanager
def fake_smtp(*, require_auth: bool = False) -> Iterator[FakeSmtp]:
    """Run the server on a free port of 127.0.0.1 for the duration of the block."""
    fake = FakeSmtp(host="127.0.0.1", port=free_port())
    options: dict[str, Any] = {}
    if require_auth:
        options = {
            "authenticator": fake.authenticate,
            "auth_required": True,
            "auth_require_tls": False,
        }
    controller = Controller(
        fake, hostname=fake.host, port=fake.port, server_hostname="fake-smtp.test", **options
    )
    controller.start()
    try:
        yield fake
    finally:
        controller.stop()
