"""Text rules shared by the whole domain: what a message may contain, and folding for matching."""

from __future__ import annotations

import re
import unicodedata

from lucine_core.errors import ValidationError

__all__ = [
    "CLIENT_MESSAGE_ID_PATTERN",
    "MAX_MESSAGE_LENGTH",
    "check_client_message_id",
    "clean_text",
    "fold",
]

MAX_MESSAGE_LENGTH = 2000

# C0/C1 control characters other than tab, newline and carriage return, plus the
# bidirectional overrides that can disguise text in an operator's view.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

CLIENT_MESSAGE_ID_PATTERN = "^[A-Za-z0-9_-]{1,64}$"
"""What a client's own message id may be: 1 to 64 letters, digits, ``_`` or ``-``.

Anchored for JSON Schema's (ECMA) regexes; Python's ``$`` also matches before a final
newline, so the core checks with a full match instead.
"""
_CLIENT_MESSAGE_ID = re.compile("[A-Za-z0-9_-]{1,64}")


def clean_text(text: str, *, field: str = "message", max_length: int = MAX_MESSAGE_LENGTH) -> str:
    """Return ``text`` as it will be stored, or raise if it can never be accepted.

    Text is stored as typed: only surrounding whitespace is trimmed and line endings
    normalised. Rendering is where escaping happens, never here.

    Raises:
        ValidationError: the text is empty, too long or contains control characters.
    """
    stripped = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not stripped:
        raise ValidationError(field=field, reason="must not be empty")
    if len(stripped) > max_length:
        raise ValidationError(field=field, reason=f"must be at most {max_length} characters")
    if _FORBIDDEN.search(stripped):
        raise ValidationError(field=field, reason="must not contain control characters")
    return stripped


def check_client_message_id(value: str | None) -> str | None:
    """Return a client's message id unchanged (None stays None), or raise if it is malformed.

    Raises:
        ValidationError: not 1 to 64 letters, digits, ``_`` or ``-``.
    """
    if value is not None and _CLIENT_MESSAGE_ID.fullmatch(value) is None:
        raise ValidationError(
            field="clientMessageId", reason="must be 1 to 64 letters, digits, _ or -"
        )
    return value


def fold(text: str) -> str:
    """Lower-case, strip accents and collapse whitespace, for matching rather than display.

    >>> fold("  Perché   È  così?")
    'perche e cosi?'
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    without_marks = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(without_marks.replace("ß", "ss").split())
