"""Masking of personal data before text leaves for the LLM."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lucine_core.redact import mask_personal_data


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("scrivi a ada.lovelace+natale@example.co.uk", "scrivi a [email]"),
        ("tel +39 333 123 4567 grazie", "tel [phone] grazie"),
        ("chiamami al 3331234567", "chiamami al [phone]"),
        ("fisso (06) 1234-5678", "fisso [phone]"),
        ("Telefon 0049 30 1234567", "Telefon [phone]"),
        ("carta 4111-1111-1111-1111", "carta [card]"),
        ("Karte 5500 0000 0000 0004.", "Karte [card]."),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    """E-mail addresses, phone numbers and Luhn-valid card numbers become placeholders."""
    assert mask_personal_data(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "dalle 17:30 alle 23:00",
        "il 24/12/2026 e il 2026-12-26",
        "2 adulti e 3 bambini, 12,50 euro",
        "ordine #12345",
        "aperto dal 1.12 al 6.1",
    ],
)
def test_times_dates_prices_and_short_numbers_stay(text: str) -> None:
    """What visitors ask about (times, dates, prices, small counts) is not masked."""
    assert mask_personal_data(text) == text


@given(
    user=st.from_regex(r"[a-z][a-z0-9._]{0,15}", fullmatch=True),
    domain=st.from_regex(r"[a-z]{2,10}\.(it|com|de|org)", fullmatch=True),
    before=st.sampled_from(["", "mail: ", "scrivetemi a "]),
)
def test_no_generated_address_survives(user: str, domain: str, before: str) -> None:
    """Any address in a sentence is masked whole."""
    masked = mask_personal_data(f"{before}{user}@{domain} grazie")
    assert "@" not in masked
    assert domain not in masked


@given(st.lists(st.integers(0, 9), min_size=9, max_size=12))
def test_no_generated_mobile_number_survives(digits: list[int]) -> None:
    """Italian mobile numbers (+39 3xx...) in any grouping are masked."""
    number = "3" + "".join(map(str, digits))
    grouped = f"+39 {number[:3]} {number[3:6]} {number[6:]}"
    for form in (number, grouped):
        assert number[3:] not in mask_personal_data(f"chiamate {form} ora").replace(" ", "")
