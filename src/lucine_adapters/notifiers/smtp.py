"""Notifications as plain-text e-mail through the shop's mail relay (the standard smtplib).

smtplib blocks, so each delivery runs in a thread of this notifier's own small pool: a
relay that hangs until its timeout then holds only those threads, never the event
loop's default executor that DNS lookups and database connections need.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Literal

from lucine_adapters.notifiers.checks import check_email, check_sender, is_email
from lucine_adapters.notifiers.retry import check_attempts, with_retries
from lucine_core.errors import ExternalServiceError, ValidationError
from lucine_core.ports import Notification

__all__ = ["SmtpNotifier", "SmtpSecurity"]

SmtpSecurity = Literal["starttls", "ssl", "none"]
"""STARTTLS on a plain connection (587), TLS from the start (465), or none (25)."""

_SERVICE = "smtp"
_SECURITIES = ("starttls", "ssl", "none")
_THREADS = 2


def _temporary_code(code: int) -> bool:
    return 400 <= code < 500  # noqa: PLR2004 - SMTP's transient replies


def _error(error: Exception) -> ExternalServiceError:
    """An ExternalServiceError for what smtplib raised: retryable unless it is final."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        temporary = all(_temporary_code(code) for code in codes)
        reason = f"recipients refused ({', '.join(map(str, sorted(set(codes))))})"
        return ExternalServiceError(service=_SERVICE, reason=reason, retryable=temporary)
    if isinstance(error, smtplib.SMTPResponseException):
        raw = error.smtp_error
        message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return ExternalServiceError(
            service=_SERVICE,
            reason=f"{error.smtp_code} {message}".strip(),
            retryable=_temporary_code(error.smtp_code),
        )
    if isinstance(error, smtplib.SMTPNotSupportedError | ssl.SSLCertVerificationError):
        # No STARTTLS offered, or a certificate that does not match: never downgrade.
        return ExternalServiceError(service=_SERVICE, reason=str(error), retryable=False)
    detail = str(error) or "no detail"
    return ExternalServiceError(service=_SERVICE, reason=f"{type(error).__name__}: {detail}")


class SmtpNotifier:
    """Sends each notification as one plain-text UTF-8 e-mail.

    A team notification goes to ``team_recipients`` (skipped when there are none); one
    for a visitor's e-mail address goes to that address alone; one for a phone number is
    skipped.

    Args:
        host: The mail relay.
        port: Its port (587 for STARTTLS, 465 for SSL, 25 without).
        sender: The From address, bare or with a name (``Lucine <noreply@shop.it>``).
        team_recipients: The team's addresses.
        username: Login name, when the relay needs one (with ``password``).
        password: Login password.
        security: ``starttls`` (the relay must offer it), ``ssl`` or ``none``.
        timeout: Seconds for each network operation.
        attempts: Tries in all; 4xx replies and connection errors are retried.
        backoff: Seconds before the second attempt, doubled before each next one.
        local_hostname: The name given in EHLO; the machine's FQDN by default.

    Raises:
        ValidationError: a malformed address, an unknown security mode, a username
            without a password, or a number out of range.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        team_recipients: Sequence[str],
        *,
        username: str | None = None,
        password: str | None = None,
        security: SmtpSecurity = "starttls",
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 1.0,
        local_hostname: str | None = None,
    ) -> None:
        if security not in _SECURITIES:
            raise ValidationError(field="security", reason="must be starttls, ssl or none")
        if (username is None) != (password is None):
            raise ValidationError(field="username", reason="needs a password, and vice versa")
        if not 0 < port < 65536:  # noqa: PLR2004
            raise ValidationError(field="port", reason="must be 1-65535")
        check_attempts(attempts, backoff, timeout)
        self._host, self._port = host, port
        self._sender = check_sender(sender, "sender")
        self._envelope_sender = parseaddr(self._sender)[1]
        self._team = tuple(check_email(address, "team_recipients") for address in team_recipients)
        self._username, self._password = username, password
        self._security = security
        self._timeout = timeout
        self._attempts, self._backoff = attempts, backoff
        self._local_hostname = local_hostname
        self._threads = ThreadPoolExecutor(_THREADS, thread_name_prefix="lucine-smtp")

    def __repr__(self) -> str:
        return f"SmtpNotifier(host={self._host!r}, port={self._port}, security={self._security!r})"

    async def notify(self, notification: Notification) -> None:
        """Send the e-mail, retrying temporary failures; skip what e-mail cannot reach.

        Raises:
            ExternalServiceError: every attempt failed, the relay refused the message for
                good (a 5xx reply, no STARTTLS), or the visitor's address is malformed.
        """
        recipients = self._recipients(notification)
        if not recipients:
            return
        message = self._message(notification, recipients)
        loop = asyncio.get_running_loop()

        async def attempt() -> None:
            await loop.run_in_executor(self._threads, self._send, message, recipients)

        await with_retries(attempt, attempts=self._attempts, backoff=self._backoff)

    def _recipients(self, notification: Notification) -> tuple[str, ...]:
        if notification.recipient is None:
            return self._team
        if not is_email(notification.recipient):
            return ()
        try:
            return (check_email(notification.recipient, "recipient"),)
        except ValidationError as error:
            raise ExternalServiceError(
                service=_SERVICE, reason=error.message, retryable=False
            ) from None

    def _message(self, notification: Notification, recipients: Sequence[str]) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = ", ".join(recipients)
        # A header spans one line: fold any line breaks a subject may carry into spaces.
        message["Subject"] = " ".join(notification.subject.split())
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=self._envelope_sender.rpartition("@")[2])
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        # Quoted-printable: readable, and safe through relays without 8BITMIME.
        message.set_content(notification.body, charset="utf-8", cte="quoted-printable")
        return message

    def _send(self, message: EmailMessage, recipients: Sequence[str]) -> None:
        """One attempt, in a worker thread: connect, secure, log in, send, quit."""
        try:
            with self._connect() as client:
                if self._security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if self._username is not None and self._password is not None:
                    client.login(self._username, self._password)
                refused = client.send_message(
                    message, from_addr=self._envelope_sender, to_addrs=list(recipients)
                )
        except (smtplib.SMTPException, OSError) as error:
            raise _error(error) from None
        if refused:
            # Sent to the others already: retrying would send them a second copy.
            raise ExternalServiceError(
                service=_SERVICE,
                reason=f"refused for {len(refused)} of {len(recipients)} recipients",
                retryable=False,
            )

    def _connect(self) -> smtplib.SMTP:
        if self._security == "ssl":
            return smtplib.SMTP_SSL(
                self._host,
                self._port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=ssl.create_default_context(),
            )
        return smtplib.SMTP(
            self._host, self._port, local_hostname=self._local_hostname, timeout=self._timeout
        )
