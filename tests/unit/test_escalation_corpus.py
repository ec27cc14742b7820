"""Precision and recall of the escalation patterns on a labelled corpus of real-looking phrases."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import attrs

from lucine_core.enums import Language
from lucine_core.escalation import reply_is_unsure, visitor_reasons

CORPUS_PATH = Path(__file__).parents[1] / "data" / "escalation_corpus.json"
MIN_PRECISION = 0.9
MIN_RECALL = 0.9
KINDS = ("visitor", "reply")


@attrs.frozen(kw_only=True)
class Phrase:
    text: str
    language: Language
    kind: str
    escalate: bool

    def predicted(self) -> bool:
        if self.kind == "visitor":
            return bool(visitor_reasons(self.text))
        return reply_is_unsure(self.text)


@attrs.frozen(kw_only=True)
class Score:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def line(self, label: str) -> str:
        return (
            f"{label:<14} n={self.tp + self.fp + self.fn + self.tn:<4} "
            f"precision={self.precision:.3f} recall={self.recall:.3f} "
            f"(tp={self.tp} fp={self.fp} fn={self.fn} tn={self.tn})"
        )


def _load() -> list[Phrase]:
    raw = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))
    return [
        Phrase(
            text=row["text"],
            language=Language(row["language"]),
            kind=row["kind"],
            escalate=row["escalate"],
        )
        for row in raw
    ]


CORPUS = _load()


def _score(phrases: list[Phrase]) -> Score:
    counts = Counter((phrase.escalate, phrase.predicted()) for phrase in phrases)
    return Score(
        tp=counts[True, True],
        fp=counts[False, True],
        fn=counts[True, False],
        tn=counts[False, False],
    )


def _report(lines: list[str]) -> None:
    print("\n" + "\n".join(lines))


def test_corpus_is_large_and_balanced():
    """The corpus has at least 150 unique phrases, both classes of both kinds in every language."""
    assert len(CORPUS) >= 150
    assert len({phrase.text for phrase in CORPUS}) == len(CORPUS)
    assert {phrase.kind for phrase in CORPUS} == set(KINDS)
    groups = Counter((p.language, p.kind, p.escalate) for p in CORPUS)
    for language in Language:
        for kind in KINDS:
            assert groups[language, kind, True] >= 3, (language, kind)
            assert groups[language, kind, False] >= 3, (language, kind)
    share = Counter(phrase.language for phrase in CORPUS)
    assert share[Language.IT] / len(CORPUS) >= 0.5
    assert share[Language.EN] / len(CORPUS) >= 0.15
    assert share[Language.DE] / len(CORPUS) >= 0.1


def test_precision_and_recall_overall_and_per_language():
    """Precision and recall are at least 0.9 overall and in each language."""
    scores = {"overall": _score(CORPUS)}
    for language in Language:
        scores[language.value] = _score([p for p in CORPUS if p.language is language])
    for kind in KINDS:
        scores[kind] = _score([p for p in CORPUS if p.kind == kind])
    misses = [
        f"  {'FN' if p.escalate else 'FP'} [{p.language.value}/{p.kind}] {p.text}"
        for p in CORPUS
        if p.predicted() != p.escalate
    ]
    _report(
        [label_score.line(label) for label, label_score in scores.items()]
        + ["misclassified:" if misses else "misclassified: none", *misses]
    )
    for label in ("overall", *(language.value for language in Language)):
        assert scores[label].precision >= MIN_PRECISION, label
        assert scores[label].recall >= MIN_RECALL, label
