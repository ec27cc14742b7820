"""Text analysis for retrieval: content words, stems, and what a query word may stand for.

Text is folded with `lucine_core.text.fold`, split into words, and stripped of Italian,
English and German stop words plus the greetings and modal verbs visitors add to nearly
every message. Items are stemmed with the stemmer of their language; a query word is
stemmed with all three, because the visitor's language is only a hint (measured: all
three ranked slightly better than the hinted stemmer alone on the development sets).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Container, Iterable, Mapping
from typing import Final

import Stemmer
from bm25s import stopwords as bm25s_stopwords
from rapidfuzz import process
from rapidfuzz.distance import OSA

from lucine_core.enums import Language
from lucine_core.text import fold

__all__ = ["INTENT_WORDS", "Analyzer", "Match", "Surface", "content_words", "phrase_terms"]

# Greetings, politeness and modal verbs carry no topic, yet visitors type them in most
# messages; left in, they would count as unanswered words and lower the confidence.
_FILLER: Final = (
    # Italian
    "ciao salve buongiorno buonasera grazie mille prego favore cortesemente gentilmente "
    "scusate scusi scusa vorrei volevo voglio vorremmo sapere chiedere domanda info "
    "informazione informazioni posso puoi puo possiamo potete possono potrei potremmo "
    "devo dobbiamo deve devono bisogna serve servono ce ok okay allora quindi pero tipo "
    "cosa qualcosa qualcuno qual quali perche gia ancora solo molto tanto poi ecco "
    "fare essere avere va ue beh boh eh oh ah dai me te ve",
    # English
    "hi hello hey thanks thank please would could like want wanted know tell need "
    "also anyone something yes still us whats dont didnt cant wont isnt im ive youre",
    # German
    "hallo servus guten danke bitte mochte mochten gerne gern wissen frage fragen infos "
    "informationen konnen konnt darf durfen mussen gibt gibts habt ja nein mal eigentlich",
)

INTENT_WORDS: Final = frozenset(
    (
        *("dove", "dov", "quando", "quanto", "quanta", "quanti", "quante"),
        *("where", "when", "get"),
        *("wo", "wann"),
    )
)
"""Interrogatives (and "get", as in "get there") hint at the kind of answer wanted, a
place, a time or an amount: they help order hits but name no topic of their own."""

_STOP_WORDS: Final = (
    frozenset(
        fold(word)
        for words in (
            bm25s_stopwords.STOPWORDS_ITALIAN,
            bm25s_stopwords.STOPWORDS_EN_PLUS,
            bm25s_stopwords.STOPWORDS_GERMAN,
            " ".join(_FILLER).split(),
        )
        for word in words
    )
    - INTENT_WORDS
)
_WORD: Final = re.compile(r"[^\W_]+")
_STEMMER_NAMES: Final = {Language.IT: "italian", Language.EN: "english", Language.DE: "german"}
_FUZZY_MIN_LENGTH: Final = 5
_TWO_TYPO_LENGTH: Final = 8  # from this length two typos in one word are common
_FUZZY_PENALTY: Final = 0.15  # weight lost per edit
_COMPOUND_PART: Final = 4  # shortest part of a split compound

Match = tuple[str, float]
"""An indexed term a query word may stand for, with a weight in (0, 1]."""

Surface = Mapping[str, Mapping[str, tuple[str, ...]]]
"""Indexed words by first letter, each with the terms it was stemmed to."""


def content_words(text: str) -> list[str]:
    """Return the folded words of ``text`` without stop words and single letters."""
    return [
        word
        for word in _WORD.findall(fold(text))
        if word not in _STOP_WORDS and (len(word) > 1 or word.isdigit())
    ]


def phrase_terms(stems: Iterable[str]) -> list[str]:
    """Return the two-word phrase terms of consecutive stems ("cos mett")."""
    return [f"{first} {second}" for first, second in itertools.pairwise(stems)]


class Analyzer:
    """Stems items' words and maps a visitor's words onto indexed terms."""

    def __init__(self) -> None:
        self._stemmers = {
            language: Stemmer.Stemmer(name) for language, name in _STEMMER_NAMES.items()
        }

    def stem(self, words: list[str], language: Language) -> list[str]:
        """Return ``words`` stemmed with the stemmer of ``language``."""
        stems: list[str] = self._stemmers[language].stemWords(words)
        return stems

    def matches(self, word: str, terms: Container[str], surface: Surface) -> list[list[Match]]:
        """Return what a query word may stand for, as groups of indexed terms.

        Usually one group: the word's stems that are indexed, or else the terms of the
        closest indexed word (same first letter, one edit, two from eight letters).
        Two groups when an unknown compound splits into two known words
        ("Eintrittspreise"). A group counts its best term, so a word stemmed three ways
        still counts once. Nothing matched returns [].
        """
        exact = self._exact(word, terms)
        if exact or len(word) < _FUZZY_MIN_LENGTH or word.isdigit():
            return [exact] if exact else []
        # Typos rarely hit the first letter; requiring it keeps "pane" away from "cane".
        candidates = surface.get(word[0], {})
        max_edits = 2 if len(word) >= _TWO_TYPO_LENGTH else 1
        found = process.extractOne(
            word, candidates.keys(), scorer=OSA.distance, score_cutoff=max_edits
        )
        if found is not None:
            weight = 1.0 - _FUZZY_PENALTY * found[1]
            return [[(term, weight) for term in candidates[found[0]]]]
        return self._split_compound(word, terms)

    def _exact(self, word: str, terms: Container[str]) -> list[Match]:
        """Return the indexed terms among the word's Italian, English and German stems."""
        stems = {stemmer.stemWord(word) for stemmer in self._stemmers.values()}
        return [(stem, 1.0) for stem in sorted(stems) if stem in terms]

    def _split_compound(self, word: str, terms: Container[str]) -> list[list[Match]]:
        """Split a German-style compound into two known words, longest head first."""
        for cut in range(len(word) - _COMPOUND_PART, _COMPOUND_PART - 1, -1):
            head = self._exact(word[:cut], terms)
            tail_word = word[cut:]
            # German joins compounds with a linking "s" (Eintritt-s-preise).
            tail = self._exact(tail_word, terms) or (
                self._exact(tail_word[1:], terms) if tail_word.startswith("s") else []
            )
            if head and tail:
                return [head, tail]
        return []
