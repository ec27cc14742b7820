"""Checks of the addresses notifiers are configured with, shared with the settings.

Each check raises ``ValidationError`` naming the ``field`` it is given, so the same rule
reports ``url`` from a constructor and ``LUCINE_WEBHOOK_URL`` from the settings.
"""

from __future__ import annotations

import re
from email.utils import parseaddr

import httpx

from lucine_core.errors import ValidationError
from lucine_core.tickets import normalise_email

__all__ = [
    "MIN_SECRET_BYTES",
    "check_account_sid",
    "check_email",
    "check_http_url",
    "check_phone",
    "check_sender",
    "is_email",
    "redacted_url",
]

MIN_SECRET_BYTES = 32
"""The shortest webhook secret accepted: an HMAC-SHA256 key of full strength."""

# E.164: a plus, a country code that does not start with 0, 8 to 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")


def check_http_url(url: str, field: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL with a host.

    Raises:
        ValidationError: another scheme, no host, or not a URL at all.
    """
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        raise ValidationError(field=field, reason="is not a URL") from None
    if parsed.scheme not in {"http", "https"}:
        raise ValidationError(field=field, reason="must be an http:// or https:// URL")
    if not parsed.host:
        raise ValidationError(field=field, reason="has no host")
    return str(parsed)


def redacted_url(url: str) -> str:
    """The URL without what may be secret in it (userinfo, path, query), for reprs and logs."""
    parsed = httpx.URL(url)
    return repr(f"{parsed.scheme}://{parsed.host}/...")


def check_phone(number: str, field: str) -> str:
    """Return ``number`` if it is in E.164 form (``+393331234567``).

    Raises:
        ValidationError: no leading +, a country code starting with 0, or not 8-15 digits.
    """
    value = number.strip()
    if not _E164.fullmatch(value):
        raise ValidationError(
            field=field, reason=f"{value!r} is not an E.164 number (+ and digits)"
        )
    return value


def check_account_sid(sid: str, field: str) -> str:
    """Return a Twilio account SID (``AC`` and 32 hex digits); it goes into the API's path.

    Raises:
        ValidationError: any other form.
    """
    if not _ACCOUNT_SID.fullmatch(sid):
        raise ValidationError(field=field, reason="must be AC and 32 hex digits")
    return sid


def check_email(address: str, field: str) -> str:
    """Return the address, trimmed and lower-cased, by the rule visitors' addresses follow.

    Raises:
        ValidationError: it does not look like an e-mail address.
    """
    try:
        return normalise_email(address)
    except ValidationError:
        raise ValidationError(field=field, reason=f"{address!r} is not an e-mail address") from None


def check_sender(sender: str, field: str) -> str:
    """Return a From address, bare (``a@b.it``) or with a name (``Lucine <a@b.it>``).

    Raises:
        ValidationError: the address part is not an e-mail address, or it spans lines.
    """
    if "\r" in sender or "\n" in sender:
        raise ValidationError(field=field, reason="must be on one line")
    _, address = parseaddr(sender)
    check_email(address, field)
    return sender.strip()


def is_email(recipient: str) -> bool:
    """Whether a notification's recipient is an e-mail address (else a phone number)."""
    return "@" in recipient
