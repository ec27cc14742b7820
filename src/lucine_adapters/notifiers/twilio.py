"""Notifications as SMS or WhatsApp messages through Twilio's Messages API."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

import httpx

from lucine_adapters.notifiers.checks import (
    check_account_sid,
    check_http_url,
    check_phone,
    is_email,
)
from lucine_adapters.notifiers.client import http_client
from lucine_adapters.notifiers.retry import check_attempts, with_retries
from lucine_core.errors import ExternalServiceError, ValidationError
from lucine_core.ports import Notification

__all__ = ["MAX_TEXT", "TwilioChannel", "TwilioNotifier", "message_text"]

TwilioChannel = Literal["sms", "whatsapp"]
"""Plain SMS, or WhatsApp (numbers sent as ``whatsapp:+39...``)."""

MAX_TEXT = 1600
"""The longest message body Twilio accepts, in UTF-16 code units."""

_SERVICE = "twilio"
_TOO_MANY_REQUESTS = 429
_ELLIPSIS = "…"


def _units(text: str) -> int:
    """Length as Twilio counts it: UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def message_text(subject: str, body: str, limit: int = MAX_TEXT) -> str:
    """Subject, a line break and the body, cut at a word (with "…") when too long."""
    text = f"{subject}\n{body}".strip()
    if _units(text) <= limit:
        return text
    room = limit - _units(_ELLIPSIS)
    cut = text[:room]
    while (over := _units(cut) - room) > 0:
        cut = cut[:-over]
    space = cut.rfind(" ")
    if space > room * 0.8:  # a word boundary near the end; else cut mid-word
        cut = cut[:space]
    return cut.rstrip() + _ELLIPSIS


def _temporary(status: int) -> bool:
    return status == _TOO_MANY_REQUESTS or status >= 500  # noqa: PLR2004


class TwilioNotifier:
    """Sends a team notification to each team number, a visitor's to their number alone.

    Notifications for an e-mail address are skipped; each message is subject and body
    (at most 1,600 characters), one request per number.

    Args:
        account_sid: The account (``AC`` and 32 hex digits); the API user name.
        auth_token: The account's auth token (the API password).
        sender: The Twilio number messages come from (E.164).
        team_recipients: The team's numbers (E.164).
        channel: ``sms`` or ``whatsapp``.
        base_url: Twilio's API root (a fake in tests).
        timeout: Seconds for one attempt.
        attempts: Tries per number; connection errors, timeouts, 429 and 5xx are retried.
        backoff: Seconds before the second attempt, doubled before each next one.

    Raises:
        ValidationError: a number not in E.164 form, a malformed account SID or URL, an
            unknown channel, or a number out of range.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        team_recipients: Sequence[str],
        *,
        channel: TwilioChannel = "sms",
        base_url: str = "https://api.twilio.com",
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 1.0,
    ) -> None:
        check_account_sid(account_sid, "account_sid")
        if not auth_token:
            raise ValidationError(field="auth_token", reason="must not be empty")
        if channel not in {"sms", "whatsapp"}:
            raise ValidationError(field="channel", reason="must be sms or whatsapp")
        check_attempts(attempts, backoff, timeout)
        root = check_http_url(base_url, "base_url").rstrip("/")
        self._endpoint = f"{root}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._sender = check_phone(sender, "sender")
        self._team = tuple(check_phone(number, "team_recipients") for number in team_recipients)
        self._prefix = "whatsapp:" if channel == "whatsapp" else ""
        self._timeout = timeout
        self._attempts, self._backoff = attempts, backoff

    def __repr__(self) -> str:
        return f"TwilioNotifier(endpoint={self._endpoint!r}, whatsapp={bool(self._prefix)})"

    async def notify(self, notification: Notification) -> None:
        """Send the message to each number, retrying each; skip one for an e-mail address.

        Raises:
            ExternalServiceError: a message could not be sent after its attempts, or the
                visitor's number is not in E.164 form; the others are still sent.
        """
        numbers = self._numbers(notification)
        if not numbers:
            return
        text = message_text(notification.subject, notification.body)
        failures: list[ExternalServiceError] = []
        async with http_client(self._timeout) as client:
            for number in numbers:
                try:
                    await self._send(client, number, text)
                except ExternalServiceError as error:
                    failures.append(error)
        if failures:
            raise ExternalServiceError(
                service=_SERVICE,
                reason=f"{len(failures)} of {len(numbers)} not sent: {failures[0].reason}",
                retryable=failures[0].retryable,
            )

    def _numbers(self, notification: Notification) -> tuple[str, ...]:
        if notification.recipient is None:
            return self._team
        if is_email(notification.recipient):
            return ()
        try:
            return (check_phone(notification.recipient, "recipient"),)
        except ValidationError:
            # The reason would quote the number: keep visitors' numbers out of the logs.
            raise ExternalServiceError(
                service=_SERVICE,
                reason="the visitor's number is not in E.164 form",
                retryable=False,
            ) from None

    async def _send(self, client: httpx.AsyncClient, number: str, text: str) -> None:
        form = {"From": self._prefix + self._sender, "To": self._prefix + number, "Body": text}

        async def attempt() -> None:
            try:
                async with asyncio.timeout(self._timeout):
                    response = await client.post(self._endpoint, data=form, auth=self._auth)
            except (TimeoutError, httpx.TimeoutException):
                raise ExternalServiceError(service=_SERVICE, reason="timed out") from None
            except httpx.TransportError as error:
                detail = str(error) or "no detail"
                raise ExternalServiceError(
                    service=_SERVICE, reason=f"{type(error).__name__}: {detail}"
                ) from None
            if not response.is_success:
                raise ExternalServiceError(
                    service=_SERVICE,
                    reason=_describe(response),
                    retryable=_temporary(response.status_code),
                )

        await with_retries(attempt, attempts=self._attempts, backoff=self._backoff)


def _describe(response: httpx.Response) -> str:
    """``HTTP 400 (Twilio error 21211)``: the status and Twilio's code, never its message.

    Twilio's messages quote phone numbers; its numeric codes say enough
    (https://www.twilio.com/docs/api/errors).
    """
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        code = None
    suffix = f" (Twilio error {code})" if isinstance(code, int) else ""
    return f"HTTP {response.status_code}{suffix}"
