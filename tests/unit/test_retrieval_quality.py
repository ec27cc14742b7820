"""Retrieval quality of the BM25 knowledge base on visitor phrasings it was not written from.

``tests/data/eval/sample/heldout.jsonl`` holds paraphrases, typos, dialect, English and
German questions labelled with the item that answers them, and out-of-scope questions
labelled ESCALATE. This is BM25 alone (``LUCINE_EMBEDDINGS=off``); the default hybrid
retrieval is measured in test_answer_quality.py. Run with ``pytest -s`` to see the
scores and every miss.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from lucine_adapters.kb import DEFAULT_MIN_CONFIDENCE, Bm25KnowledgeBase, sample_kb
from lucine_adapters.kb.evalset import load_cases
from lucine_core.enums import Language
from lucine_core.kb import KnowledgeBaseItem, RetrievedItem

HELDOUT = Path(__file__).parent.parent / "data" / "eval" / "sample" / "heldout.jsonl"
REQUIRED = 0.85


def _cases() -> list[dict[str, str | None]]:
    return [
        {
            "text": case.question,
            "expected": case.expect[0] if case.expect else None,
            "language": case.language.value if case.language else "it",
        }
        for case in load_cases(HELDOUT)
    ]


@pytest.fixture(scope="module")
def kb() -> Bm25KnowledgeBase:
    return Bm25KnowledgeBase(sample_kb())


async def _outcomes(
    kb: Bm25KnowledgeBase,
) -> list[tuple[dict[str, str | None], list[RetrievedItem]]]:
    outcomes = []
    for case in _cases():
        language = Language(str(case["language"]))
        hits = await kb.search(str(case["text"]), language=language, limit=3)
        outcomes.append((case, list(hits)))
    return outcomes


def _show(hits: list[RetrievedItem]) -> str:
    return ", ".join(f"{hit.item.id} {hit.score:.3f}" for hit in hits) or "nothing"


def _print(lines: list[str]) -> None:
    print("\n" + "\n".join(lines))


def test_heldout_set_is_large_and_labelled_with_real_ids() -> None:
    """The held-out set has >= 90 in-scope and >= 20 out-of-scope cases, none a KB question."""
    items = {item.id: item for item in sample_kb()}
    questions = {item.question.casefold() for item in items.values()}
    cases = _cases()
    in_scope = [case for case in cases if case["expected"] is not None]
    assert len(in_scope) >= 90
    assert len(cases) - len(in_scope) >= 20
    assert all(case["expected"] in items for case in in_scope)
    assert all(str(case["text"]).casefold() not in questions for case in cases)
    assert {case["language"] for case in cases} == {"it", "en", "de"}


async def test_in_scope_phrasings_find_their_item_confidently(kb: Bm25KnowledgeBase) -> None:
    """At least 85% of in-scope phrasings rank the expected item first at or above the threshold."""
    outcomes = [(case, hits) for case, hits in await _outcomes(kb) if case["expected"]]
    misses: list[str] = []
    correct: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for case, hits in outcomes:
        language = str(case["language"])
        totals[language] += 1
        top = hits[0] if hits else None
        if top and top.item.id == case["expected"] and top.score >= DEFAULT_MIN_CONFIDENCE:
            correct[language] += 1
        else:
            misses.append(f"  MISS {case['text']!r} expected {case['expected']}: {_show(hits)}")
    accuracy = sum(correct.values()) / len(outcomes)
    by_language = ", ".join(
        f"{language} {correct[language]}/{totals[language]}" for language in sorted(totals)
    )
    _print(
        [
            f"in-scope top-1 accuracy at threshold {DEFAULT_MIN_CONFIDENCE}: {accuracy:.3f}"
            f" ({sum(correct.values())}/{len(outcomes)}; {by_language})",
            *misses,
        ]
    )
    assert accuracy >= REQUIRED


async def test_out_of_scope_questions_score_below_the_threshold(kb: Bm25KnowledgeBase) -> None:
    """At least 85% of out-of-scope questions have no hit at or above the threshold."""
    outcomes = [(case, hits) for case, hits in await _outcomes(kb) if not case["expected"]]
    leaks = [
        f"  LEAK {case['text']!r}: {_show(hits)}"
        for case, hits in outcomes
        if hits and hits[0].score >= DEFAULT_MIN_CONFIDENCE
    ]
    rejected = 1 - len(leaks) / len(outcomes)
    _print(
        [
            f"out-of-scope rejected below {DEFAULT_MIN_CONFIDENCE}: {rejected:.3f}"
            f" ({len(outcomes) - len(leaks)}/{len(outcomes)})",
            *leaks,
        ]
    )
    assert rejected >= REQUIRED


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("parchegio gratis?", "parcheggio"),  # one typo
        ("quanto costa il bigliettto", "prezzi"),  # doubled letter
        ("PERCHÈ NON È ARRIVATA LA MAIL?", "biglietto-non-ricevuto"),  # case and accents
        ("Familienticket Preis", "de-preise"),  # German compound
    ],
)
async def test_noisy_spellings_still_find_the_item(
    kb: Bm25KnowledgeBase, query: str, expected: str
) -> None:
    """Typos, shouting, accents and German compounds still rank the right item first."""
    hits = await kb.search(query)
    assert hits
    assert hits[0].item.id == expected


@pytest.mark.parametrize("item", [item for item in sample_kb() if item.language is Language.IT])
async def test_each_italian_item_is_found_by_its_own_id(
    kb: Bm25KnowledgeBase, item: KnowledgeBaseItem
) -> None:
    """An id names its topic ("parcheggio", "gift-card"), so searching it finds the item."""
    hits = await kb.search(item.id.replace("-", " "), language=Language.IT)
    assert hits
    assert hits[0].item.id == item.id
    assert hits[0].score >= DEFAULT_MIN_CONFIDENCE


@pytest.mark.parametrize("query", ["", "   ", "?!", "ciao, grazie!", "2+2", "xqzt"])
async def test_queries_without_topic_words_return_nothing(
    kb: Bm25KnowledgeBase, query: str
) -> None:
    """Empty, punctuation-only, greeting-only, number-only and unknown queries return []."""
    assert await kb.search(query) == []


async def test_scores_are_confidences_that_never_increase_down_the_list(
    kb: Bm25KnowledgeBase,
) -> None:
    """Every score lies in [0, 1] and the list is ordered by non-increasing score."""
    for case in _cases():
        hits = await kb.search(str(case["text"]), limit=5)
        scores = [hit.score for hit in hits]
        assert all(0.0 <= score <= 1.0 for score in scores)
        assert scores == sorted(scores, reverse=True)


async def test_item_in_the_hinted_language_wins_a_tie() -> None:
    """Of two items matching equally well, the one in the visitor's language comes first."""
    # "tram" is left alone by all three stemmers, so the three items score the same.
    kb = Bm25KnowledgeBase(
        [
            KnowledgeBaseItem(
                id=f"tram-{language.value}", question="Tram", answer="7", language=language
            )
            for language in Language
        ]
    )
    for language in Language:
        hits = await kb.search("tram?", language=language)
        assert hits[0].item.language is language
        assert len(hits) == len(Language)
