"""Team notifications as signed JSON POSTs to the shop's own endpoint.

The receiver checks ``X-Lucine-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed
with the shared secret, of ``f"{X-Lucine-Timestamp}.{raw body}"``; and it rejects
timestamps more than five minutes old, so a captured request cannot be replayed later.
``X-Lucine-Delivery`` is the same on every attempt of one notification, for receivers
that want to drop duplicates after a retry.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from lucine_adapters.notifiers.checks import MIN_SECRET_BYTES, check_http_url
from lucine_adapters.notifiers.client import http_client
from lucine_adapters.notifiers.guard import Resolver, is_ip_literal, resolve, vetted_addresses
from lucine_adapters.notifiers.retry import check_attempts, with_retries
from lucine_core.errors import ExternalServiceError, ValidationError
from lucine_core.ports import Notification

__all__ = ["WebhookNotifier", "sign"]

_SERVICE = "webhook"
_USER_AGENT = "Lucine-Webhook/1"
_TOO_MANY_REQUESTS = 429
_REQUEST_TIMEOUT = 408


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Lucine-Signature`` value of ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _temporary(status: int) -> bool:
    return status in {_REQUEST_TIMEOUT, _TOO_MANY_REQUESTS} or status >= 500  # noqa: PLR2004


class WebhookNotifier:
    """POSTs team notifications, signed, to one URL; visitors' notifications are skipped.

    Args:
        url: The receiver: an http(s) URL.
        secret: The shared HMAC key (at least 32 bytes).
        allow_private: Accept loopback, private and link-local targets (a receiver on
            the shop's own network); refused by default.
        timeout: Seconds for one attempt: resolving, connecting, sending and the answer.
        attempts: Tries in all; connection errors, timeouts, 408, 429 and 5xx are retried.
        backoff: Seconds before the second attempt, doubled before each next one.
        resolver: Host name to addresses (tests); the system resolver by default.
        clock: Unix time in seconds (tests); ``time.time`` by default.

    Raises:
        ValidationError: the URL is not http(s), the secret is short, or a number is
            out of range.
    """

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        allow_private: bool = False,
        timeout: float = 5.0,
        attempts: int = 4,
        backoff: float = 0.5,
        resolver: Resolver = resolve,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = httpx.URL(check_http_url(url, "url"))
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < MIN_SECRET_BYTES:
            raise ValidationError(
                field="secret", reason=f"must be at least {MIN_SECRET_BYTES} bytes"
            )
        check_attempts(attempts, backoff, timeout)
        self._secret = key
        self._allow_private = allow_private
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff
        self._resolver = resolver
        self._clock = clock

    def __repr__(self) -> str:
        # Not the whole URL: many receivers carry a token in its path or query.
        return f"WebhookNotifier(host={self._url.host!r}, allow_private={self._allow_private})"

    async def notify(self, notification: Notification) -> None:
        """POST the notification, retrying temporary failures; skip one for a visitor.

        Raises:
            ExternalServiceError: every attempt failed, the receiver refused it (another
                4xx, a redirect), or the target is not a public address (not retried).
        """
        if notification.recipient is not None:
            return
        body = self._body(notification)
        delivery = secrets.token_hex(16)
        async with http_client(self._timeout, trust_env=False) as client:

            async def attempt() -> None:
                try:
                    async with asyncio.timeout(self._timeout):
                        await self._post(client, body, delivery)
                except TimeoutError:
                    raise ExternalServiceError(service=_SERVICE, reason="timed out") from None

            await with_retries(attempt, attempts=self._attempts, backoff=self._backoff)

    def _body(self, notification: Notification) -> bytes:
        sent_at = datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="seconds")
        payload = {
            "kind": notification.kind,
            "subject": notification.subject,
            "body": notification.body,
            "data": dict(notification.data),
            "sentAt": sent_at.replace("+00:00", "Z"),
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    def _headers(self, body: bytes, delivery: str) -> dict[str, str]:
        # Signed afresh at each attempt, so a retry after a backoff is not stale.
        timestamp = str(int(self._clock()))
        return {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": _USER_AGENT,
            "X-Lucine-Delivery": delivery,
            "X-Lucine-Timestamp": timestamp,
            "X-Lucine-Signature": sign(self._secret, timestamp, body),
        }

    async def _post(self, client: httpx.AsyncClient, body: bytes, delivery: str) -> None:
        """One attempt: vet the addresses, then try them in turn until one connects."""
        host, port = self._url.host, self._url.port or (443 if self._url.scheme == "https" else 80)
        addresses = await vetted_addresses(
            host, port, allow_private=self._allow_private, resolver=self._resolver
        )
        headers = self._headers(body, delivery)
        pin = not is_ip_literal(host)
        for index, address in enumerate(addresses):
            url, extensions = self._url, dict[str, str]()
            if pin:
                # Connect to the vetted address; Host and TLS (SNI, certificate) keep the name.
                url = self._url.copy_with(host=address)
                headers["Host"] = self._url.netloc.decode("ascii")
                extensions = {"sni_hostname": host}
            try:
                async with client.stream(
                    "POST", url, content=body, headers=headers, extensions=extensions
                ) as response:
                    self._check(response.status_code)
                    return
            except httpx.ConnectError as error:
                if index + 1 == len(addresses):
                    raise _unreachable(error) from None
            except httpx.TimeoutException:
                raise ExternalServiceError(service=_SERVICE, reason="timed out") from None
            except httpx.TransportError as error:
                raise _unreachable(error) from None

    @staticmethod
    def _check(status: int) -> None:
        if 200 <= status < 300:  # noqa: PLR2004
            return
        raise ExternalServiceError(
            service=_SERVICE, reason=f"HTTP {status}", retryable=_temporary(status)
        )


def _unreachable(error: httpx.TransportError) -> ExternalServiceError:
    detail = str(error) or "no detail"
    return ExternalServiceError(service=_SERVICE, reason=f"{type(error).__name__}: {detail}")
