"""Offline retrieval: BM25 (`bm25s`) over stemmed, accent-folded text, tolerant of typos.

Each item is indexed as two fields: its question and keywords (plus the two-word phrases
inside each of them), and, with a lower weight, its answer. How words become index terms
is in `lucine_adapters.kb.analysis`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import attrs
import bm25s
import numpy as np
import numpy.typing as npt

from lucine_adapters.kb.analysis import (
    INTENT_WORDS,
    Analyzer,
    Match,
    content_words,
    phrase_terms,
)
from lucine_core.enums import Language
from lucine_core.errors import NotFoundError, ValidationError
from lucine_core.kb import KnowledgeBaseItem, RetrievedItem

__all__ = ["DEFAULT_MIN_CONFIDENCE", "Bm25KnowledgeBase", "LexicalScores"]

DEFAULT_MIN_CONFIDENCE: Final = 0.3
"""Below this score the responder should offer a human rather than guess.

Chosen on development sets and confirmed on ``tests/data/eval/sample/heldout.jsonl``: top
hits scoring 0.5 or more were right about 95% of the time, 0.3 to 0.5 about 70%, and
below 0.3 mostly wrong or out of scope."""

# Tuned on development phrasings (never on the held-out set); see the class docstring.
_ANSWER_WEIGHT: Final = 0.15
_PHRASE_WEIGHT: Final = 0.5
_FOREIGN_FACTOR: Final = 0.85
_UNKNOWN_SHARE: Final = 1.5
_MARGIN_BASE: Final = 0.7

_Vector = npt.NDArray[np.float32]
# A term's postings: the items containing it, their weighted scores, and the best score
# it reaches in either field unweighted (what a match in a question would have scored).
_Row = tuple[npt.NDArray[np.intp], _Vector, float]


@attrs.frozen
class LexicalScores:
    """Every item's lexical scores for one query, in the order of `Bm25KnowledgeBase.items`.

    Attributes:
        items: The items.
        covered: Whether the item shares a topical word with the query.
        rank: The ranking score ``r`` (language factor applied).
        confidence: The lexical confidence of each item as if it were a hit.
    """

    items: tuple[KnowledgeBaseItem, ...]
    covered: npt.NDArray[np.bool_]
    rank: _Vector
    confidence: _Vector


@attrs.frozen
class _Index:
    """An immutable snapshot of the index, replaced whole so a search never sees half."""

    items: tuple[KnowledgeBaseItem, ...]
    languages: npt.NDArray[np.str_]
    rows: dict[str, _Row]
    surface: dict[str, dict[str, tuple[str, ...]]]
    unknown_ceiling: float


class Bm25KnowledgeBase:
    """The `KnowledgeBase` port in memory, searched with BM25; it does no I/O.

    Scores are calibrated confidences in [0, 1]. For a query with content words ``w``:

    - ``s(d)``, item ``d``'s score: the sum over ``w`` of the best weighted BM25 score
      among the terms ``w`` may stand for (its stems, else its closest indexed word at
      0.85 per edit), question and keywords counting 1 and the answer 0.15.
    - ``c``, the query's ceiling: the sum over ``w`` of the most any item could score
      for ``w`` (the term's best unweighted score in either field), and, for a word the
      knowledge base never uses, 1.5 times the 90th percentile of those best scores.
    - ``r(d) = s(d) + p(d)``, the ranking score, where ``p`` adds half the score of
      matching two-word phrases and the score of interrogatives ("dove", "where"):
      they order hits without counting as topics covered.
    - ``r2``, the best ranking score of another item in ``d``'s language.

    ::

        coverage = min(1, s(d) / c)
        margin = max(0, r(d) - r2) / r(d)
        confidence = coverage * (0.7 + 0.3 * margin)

    With a ``language`` hint, items in other languages have ``s`` and ``r`` multiplied
    by 0.85. A query whose words one item clearly answers scores near 1; words the
    knowledge base never uses pull it towards 0. Confidences never increase down the
    returned list.

    Args:
        items: The initial items; ids must be unique.
        k1: BM25 term-frequency saturation.
        b: BM25 length normalisation.

    Raises:
        ValidationError: two initial items share an id.
    """

    def __init__(
        self, items: Iterable[KnowledgeBaseItem] = (), *, k1: float = 1.2, b: float = 0.75
    ) -> None:
        self._k1 = k1
        self._b = b
        self._analyzer = Analyzer()
        self._items = _unique(items)
        self._index = self._build()

    async def search(
        self, query: str, *, language: Language | None = None, limit: int = 3
    ) -> Sequence[RetrievedItem]:
        """Return up to ``limit`` items that may answer ``query``, best first.

        An empty query, or one sharing no topical word with the knowledge base,
        returns an empty sequence.
        """
        return self.search_now(query, language=language, limit=limit)

    def search_now(
        self, query: str, *, language: Language | None = None, limit: int = 3
    ) -> list[RetrievedItem]:
        """Search synchronously, exactly as `search` does (for scripts and benchmarks)."""
        scores = self.lexical_scores(query, language=language) if limit > 0 else None
        if scores is None:
            return []
        order = [
            int(i) for i in np.argsort(-scores.rank, kind="stable")[:limit] if scores.covered[i]
        ]
        results: list[RetrievedItem] = []
        cap = 1.0
        for position in order:
            cap = min(cap, float(scores.confidence[position]))
            results.append(RetrievedItem(item=scores.items[position], score=cap))
        return results

    def lexical_scores(
        self, query: str, *, language: Language | None = None
    ) -> LexicalScores | None:
        """Return every item's lexical scores for ``query`` (None: nothing topical matched).

        The hybrid ranker fuses these with semantic similarity.
        """
        index = self._index
        words = list(dict.fromkeys(content_words(query)))
        if not words or not index.items:
            return None
        covered = np.zeros(len(index.items), dtype=np.float32)
        ordering = np.zeros_like(covered)
        ceiling = 0.0
        topical = False
        previous: list[Match] = []
        for word in words:
            groups = self._analyzer.matches(word, index.rows, index.surface)
            current = groups[0] if len(groups) == 1 else []
            phrases = [
                (f"{first} {second}", w1 * w2 * _PHRASE_WEIGHT)
                for first, w1 in previous
                for second, w2 in current
                if f"{first} {second}" in index.rows
            ]
            previous = current
            ordering += _best(index, phrases, covered)[0]
            if word in INTENT_WORDS:
                for group in groups:
                    ordering += _best(index, group, covered)[0]
                continue
            if not groups:
                # An unknown number (an age, a group size) says nothing about the topic.
                ceiling += 0.0 if word.isdigit() else index.unknown_ceiling
                continue
            # Numbers alone ("2+2") match prices and dates but name no topic.
            topical = topical or not word.isdigit()
            for group in groups:
                best, potential = _best(index, group, covered)
                covered += best
                ceiling += max(potential, float(best.max()))
        if not topical or float(covered.max()) <= 0.0:
            return None
        rank = covered + ordering
        if language is not None:
            factor = np.where(index.languages == language.value, 1.0, _FOREIGN_FACTOR)
            covered, rank = covered * factor, rank * factor
        return LexicalScores(
            items=index.items,
            covered=covered > 0.0,
            rank=rank,
            confidence=_confidences(index, covered, rank, ceiling),
        )

    @property
    def items(self) -> tuple[KnowledgeBaseItem, ...]:
        """The indexed items, ordered by id (the order of `LexicalScores` arrays)."""
        return self._index.items

    async def get(self, item_id: str) -> KnowledgeBaseItem:
        """Return one item.

        Raises:
            NotFoundError: no item has that id.
        """
        try:
            return self._items[item_id]
        except KeyError:
            raise NotFoundError(kind="knowledge base item", key=item_id) from None

    async def list_items(self) -> Sequence[KnowledgeBaseItem]:
        """Return every item, ordered by id."""
        return self._index.items

    async def upsert(self, item: KnowledgeBaseItem) -> None:
        """Add the item, or replace the item with the same id; searchable on return."""
        self._items[item.id] = item
        self._index = self._build()

    async def delete(self, item_id: str) -> None:
        """Remove one item.

        Raises:
            NotFoundError: no item has that id.
        """
        if item_id not in self._items:
            raise NotFoundError(kind="knowledge base item", key=item_id)
        del self._items[item_id]
        self._index = self._build()

    async def replace_all(self, items: Sequence[KnowledgeBaseItem]) -> None:
        """Replace the whole knowledge base at once (an import).

        Raises:
            ValidationError: two items share an id; nothing is changed then.
        """
        self._items = _unique(items)
        self._index = self._build()

    def _build(self) -> _Index:
        """Index the current items; the KB is small, so every change rebuilds it all."""
        items = tuple(sorted(self._items.values(), key=lambda item: item.id))
        surface: dict[str, dict[str, set[str]]] = {}
        main_docs: list[list[str]] = []
        answer_docs: list[list[str]] = []
        for item in items:
            main: list[str] = []
            for piece in (item.question, *item.keywords):
                words = content_words(piece)
                stems = self._analyzer.stem(words, item.language)
                main += stems + phrase_terms(stems)
                for word, stem in zip(words, stems, strict=True):
                    surface.setdefault(word[0], {}).setdefault(word, set()).add(stem)
            words = content_words(item.answer)
            answer = self._analyzer.stem(words, item.language)
            for word, stem in zip(words, answer, strict=True):
                surface.setdefault(word[0], {}).setdefault(word, set()).add(stem)
            main_docs.append(main)
            answer_docs.append(answer)
        rows = self._rows(main_docs, answer_docs)
        reaches = sorted(reach for term, (_, _, reach) in rows.items() if " " not in term)
        return _Index(
            items=items,
            languages=np.array([item.language.value for item in items], dtype=np.str_),
            rows=rows,
            surface={
                first: {word: tuple(sorted(stems)) for word, stems in by_word.items()}
                for first, by_word in surface.items()
            },
            unknown_ceiling=(
                _UNKNOWN_SHARE * reaches[int(0.9 * (len(reaches) - 1))] if reaches else 0.0
            ),
        )

    def _rows(self, main_docs: list[list[str]], answer_docs: list[list[str]]) -> dict[str, _Row]:
        """Return every term's postings over both fields."""
        weighted: dict[str, _Vector] = {}
        reach: dict[str, float] = {}
        for docs, weight in ((main_docs, 1.0), (answer_docs, _ANSWER_WEIGHT)):
            if not any(docs):
                continue
            retriever = bm25s.BM25(k1=self._k1, b=self._b)
            retriever.index(docs, show_progress=False)
            # bm25s keeps term-by-document scores as CSC arrays (its saved format):
            # reading the postings once beats one scoring call per term per query.
            data = np.asarray(retriever.scores["data"], dtype=np.float32)
            indices = np.asarray(retriever.scores["indices"], dtype=np.intp)
            indptr = np.asarray(retriever.scores["indptr"], dtype=np.intp)
            for term, term_id in retriever.vocab_dict.items():
                if not term or term_id + 1 >= len(indptr):
                    continue  # bm25s's placeholder term for empty documents
                postings = slice(indptr[term_id], indptr[term_id + 1])
                row = weighted.setdefault(term, np.zeros(len(main_docs), dtype=np.float32))
                row[indices[postings]] += weight * data[postings]
                best = float(data[postings].max(initial=0.0))
                reach[term] = max(reach.get(term, 0.0), best)
        return {
            term: (np.flatnonzero(row), row[row > 0.0], reach[term])
            for term, row in weighted.items()
        }


def _best(index: _Index, group: list[Match], like: _Vector) -> tuple[_Vector, float]:
    """Return each item's best weighted score over ``group``, and the most it could be."""
    best = np.zeros_like(like)
    potential = 0.0
    for term, weight in group:
        docs, scores, reach = index.rows[term]
        best[docs] = np.maximum(best[docs], scores * weight)
        potential = max(potential, reach * weight)
    return best, potential


def _confidences(index: _Index, covered: _Vector, rank: _Vector, ceiling: float) -> _Vector:
    """Return every item's confidence (the formula in `Bm25KnowledgeBase`)."""
    rivals = np.zeros_like(rank)
    for language in np.unique(index.languages):
        mine = index.languages == language
        scores = np.where(mine, rank, 0.0)
        order = np.argsort(-scores, kind="stable")
        first, second = scores[order[0]], scores[order[1]] if len(order) > 1 else 0.0
        rivals[mine] = np.where(scores[mine] >= first, second, first)
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.where(rank > 0.0, np.maximum(0.0, rank - rivals) / rank, 0.0)
    coverage = np.minimum(1.0, covered / ceiling) if ceiling > 0.0 else np.ones_like(covered)
    result: _Vector = (coverage * (_MARGIN_BASE + (1.0 - _MARGIN_BASE) * margin)).astype(np.float32)
    return result


def _unique(items: Iterable[KnowledgeBaseItem]) -> dict[str, KnowledgeBaseItem]:
    """Return the items by id.

    Raises:
        ValidationError: two items share an id.
    """
    by_id: dict[str, KnowledgeBaseItem] = {}
    for item in items:
        if item.id in by_id:
            raise ValidationError(field="id", reason=f"duplicate id {item.id!r}")
        by_id[item.id] = item
    return by_id
