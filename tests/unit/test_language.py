"""Language detection of visitors' messages: short and long, Italian, English and German."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lucine_core.enums import Language
from lucine_core.language import detect_language

IT, EN, DE = Language.IT, Language.EN, Language.DE
MIN_ACCURACY = 0.95

# Never the right answer for any row of the table, so a tie or missing evidence shows up.
WRONG_FALLBACK = {IT: EN, EN: DE, DE: IT}

MESSAGES: list[tuple[str, Language]] = [
    ("ciao", IT),
    ("grazie mille", IT),
    ("orari?", IT),
    ("biglietti", IT),
    ("buonasera, a che ora aprite stasera?", IT),
    ("quanto costa il biglietto famiglia?", IT),
    ("si può portare il cane?", IT),
    ("perché il sito non mi fa pagare?", IT),
    ("c'è il parcheggio?", IT),
    ("è aperto anche a Santo Stefano?", IT),
    ("Salve, vorrei sapere se i bambini sotto i tre anni pagano l'ingresso oppure no, grazie", IT),
    ("ho comprato due biglietti ma non mi è arrivata la mail", IT),
    ("ciao!! dove si parcheggia", IT),
    ("PREZZI BIGLIETTI", IT),
    ("la navetta parte dalla stazione?", IT),
    ("posso cambiare data?", IT),
    ("e' possibile entrare col passeggino", IT),
    (
        "Buongiorno, siamo un gruppo di 25 persone e vorremmo sapere se esiste una tariffa "
        "agevolata per i gruppi organizzati.",
        IT,
    ),
    ("mille grazie, buon natale!", IT),
    ("hello", EN),
    ("thanks!", EN),
    ("what time do you open tonight?", EN),
    ("how much are the tickets?", EN),
    ("can we bring our dog?", EN),
    ("Is there parking nearby?", EN),
    ("Hi, I bought two tickets but didn't get the email", EN),
    ("Do kids under 3 need a ticket?", EN),
    ("where do I park", EN),
    ("thank you so much!", EN),
    (
        "Hi there! We're visiting from London next week and would love to know whether the "
        "lights are on every evening, including Christmas Day.",
        EN,
    ),
    ("is it open when it rains?", EN),
    ("can I change the date of my booking?", EN),
    ("I'm looking for the entrance", EN),
    ("hallo", DE),
    ("danke schön", DE),
    ("Wann öffnet ihr heute?", DE),
    ("Was kostet eine Karte?", DE),
    ("Dürfen Hunde mit?", DE),
    ("Gibt es einen Parkplatz?", DE),
    ("Ich habe zwei Karten gekauft, aber keine E-Mail bekommen", DE),
    ("Brauchen Kinder unter 3 Jahren ein Ticket?", DE),
    ("vielen dank!", DE),
    ("Guten Abend, wir kommen mit dem Kinderwagen, ist der Weg geeignet?", DE),
    ("Kann man das Datum ändern?", DE),
    (
        "Hallo, wir sind eine Familie aus München und möchten am Samstag kommen. "
        "Gibt es noch Karten?",
        DE,
    ),
    ("tschüss", DE),
    ("Ist das auch bei Regen geöffnet?", DE),
]

# The short messages every visitor writes; these must never be wrong.
MUST_PASS = {
    "ciao",
    "hello",
    "hallo",
    "grazie mille",
    "thanks!",
    "danke schön",
    "orari?",
    "biglietti",
}

NO_EVIDENCE = ["123", "ok?", "ok", "🎄🎄", "👍", "", "?!", "20:30", "https://x.y/1"]


def test_table_covers_three_languages_and_short_messages():
    """The table has at least 45 messages, at least 10 per language, and the short classics."""
    assert len(MESSAGES) >= 45
    for language in Language:
        assert sum(1 for _, expected in MESSAGES if expected is language) >= 10
    assert {text for text, _ in MESSAGES} >= MUST_PASS


def test_accuracy_on_the_table():
    """At least 95 % of the table is detected right even when the fallback is always wrong."""
    misses = [
        (text, expected, detect_language(text, fallback=WRONG_FALLBACK[expected]))
        for text, expected in MESSAGES
        if detect_language(text, fallback=WRONG_FALLBACK[expected]) is not expected
    ]
    accuracy = 1 - len(misses) / len(MESSAGES)
    lines = [f"language detection accuracy: {accuracy:.3f} ({len(MESSAGES)} messages)"]
    lines += [f"  {text!r}: expected {want.value}, got {got.value}" for text, want, got in misses]
    print("\n" + "\n".join(lines))
    assert accuracy >= MIN_ACCURACY


@pytest.mark.parametrize(
    ("text", "expected"), [(text, lang) for text, lang in MESSAGES if text in MUST_PASS]
)
@pytest.mark.parametrize("fallback", list(Language))
def test_short_greetings_are_always_right(text, expected, fallback):
    """One- and two-word greetings and thanks are detected whatever the fallback."""
    assert detect_language(text, fallback=fallback) is expected


@pytest.mark.parametrize("text", NO_EVIDENCE)
@pytest.mark.parametrize("fallback", list(Language))
def test_no_evidence_returns_the_fallback(text, fallback):
    """Numbers, emoji, punctuation and "ok" keep the session's previous language."""
    assert detect_language(text, fallback=fallback) is fallback


def test_default_fallback_is_italian():
    """Without a previous language, a message with no evidence is taken as Italian."""
    assert detect_language("123") is IT


def test_tie_returns_the_fallback():
    """One Italian and one English word are a tie, which the fallback decides."""
    assert detect_language("grazie thanks", fallback=DE) is DE
    assert detect_language("grazie thanks", fallback=EN) is EN


def test_umlauts_outweigh_a_borrowed_english_word():
    """An umlaut is strong German evidence: "Tickets für Samstag" is German."""
    assert detect_language("Tickets für Samstag", fallback=EN) is DE


def test_italian_accents_outweigh_a_borrowed_english_word():
    """An Italian accented word is strong evidence: "il ticket è valido?" is Italian."""
    assert detect_language("ticket è valido", fallback=EN) is IT


@given(text=st.text(max_size=200), fallback=st.sampled_from(list(Language)))
def test_detection_is_deterministic(text, fallback):
    """The same text and fallback always give the same language."""
    first = detect_language(text, fallback=fallback)
    assert all(detect_language(text, fallback=fallback) is first for _ in range(3))
    assert first in Language


@given(
    text=st.text(st.characters(exclude_categories=("L", "Cs")), max_size=50),
    fallback=st.sampled_from(list(Language)),
)
def test_text_without_letters_returns_the_fallback(text, fallback):
    """A message with no letters at all carries no evidence."""
    assert detect_language(text, fallback=fallback) is fallback
