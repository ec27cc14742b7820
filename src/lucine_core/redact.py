"""Masking of personal data in text sent to services outside the shop (the LLM).

E-mail addresses, phone numbers and card-like numbers (13-19 digits passing the Luhn
check, with or without spaces or dashes) are replaced by placeholders. The original
text is stored as typed; only the copy sent away is masked, and nothing unmasks it.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["CARD", "EMAIL", "PHONE", "mask_personal_data"]

EMAIL: Final = "[email]"
PHONE: Final = "[phone]"
CARD: Final = "[card]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# A run of 13-19 digits, optionally grouped by single spaces or dashes.
_CARD = re.compile(r"(?<![\d+])\d(?:[ -]?\d){12,18}(?!\d)")
# International (+39 ...) or national numbers of 8-15 digits, groups split by space,
# dot, dash or slash, optionally with a bracketed prefix.
_PHONE = re.compile(
    r"(?<![\w+(])(?:\+|00)?\(?\d{1,4}\)?[ ./-]?(?:\(?\d{1,5}\)?[ ./-]?){1,5}\d{2,5}(?!\w)"
)
_DATE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}")
_MIN_PHONE_DIGITS = 8
_MAX_PHONE_DIGITS = 15  # E.164


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = sum(divmod(value * 2, 10))
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return CARD if _luhn(digits) else match.group()


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    digits = re.sub(r"\D", "", text)
    if not _MIN_PHONE_DIGITS <= len(digits) <= _MAX_PHONE_DIGITS:
        return text
    # Dates and times ("24/12/2026", "17.30") are not phone numbers.
    if _DATE.fullmatch(text):
        return text
    return PHONE


def mask_personal_data(text: str) -> str:
    """Return ``text`` with e-mail addresses, phone numbers and card numbers masked.

    >>> mask_personal_data("Sono ada@example.org, tel. +39 333 123 4567")
    'Sono [email], tel. [phone]'
    >>> mask_personal_data("carta 4111 1111 1111 1111, 2 biglietti il 24/12/2026")
    'carta [card], 2 biglietti il 24/12/2026'
    """
    text = _EMAIL.sub(EMAIL, text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)
