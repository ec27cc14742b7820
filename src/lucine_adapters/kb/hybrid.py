"""Hybrid retrieval: BM25 and sentence embeddings fused, with a calibrated confidence.

For a visitor message and every item ``d``:

- ``sem(d)``: the cosine between the message's vector and the item's question,
  answer (discounted by 0.8) and keyword vectors (all keywords together, and each
  alone), the best of them;
- ``lex(d)``: the BM25 confidence of `Bm25KnowledgeBase` (stemming per language,
  accent folding, typo tolerance), 0 when no topical word is shared;
- ``fused(d) = sem(d) + LEX_WEIGHT * lex(d)``, plus `CROSS_LANGUAGE_BONUS` for items
  in another language than the visitor's: the ranking.

The confidence of a hit is a logistic function of ``sem``, ``lex``, the margins of
both over the best other item and the message's length (long messages match less
closely), fitted on a labelled validation split
(``lucine kb calibrate``): the probability that the hit answers the message. A
message asking two things ("quanto costa e dove parcheggio?") is also split at its
question marks and at a conjunction followed by a new question; when each part finds
its own item confidently, both come first, marked with their ``part``.

When the embedder fails (an embeddings server down), ranking falls back to BM25 alone,
with its own fitted calibration, so escalation keeps working.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import attrs
import numpy as np
import numpy.typing as npt

from lucine_adapters.kb.analysis import content_words
from lucine_adapters.kb.bm25 import Bm25KnowledgeBase
from lucine_adapters.kb.embedding import Embedder, Vectors
from lucine_adapters.memory_release import release_freed_memory
from lucine_core.enums import Language
from lucine_core.errors import ExternalServiceError, NotFoundError, ValidationError
from lucine_core.kb import KnowledgeBaseItem, RetrievedItem
from lucine_core.text import fold

__all__ = [
    "DEFAULT_CALIBRATION",
    "DEFAULT_THRESHOLD",
    "FIELDS",
    "Calibration",
    "Candidate",
    "HybridKnowledgeBase",
    "ItemVectors",
    "split_question",
]

FIELDS: Final = ("question", "answer", "keywords")
"""The texts of an item that get a vector each."""

# Tuned on the validation splits (tests/data/eval, never its test split, and the sample
# knowledge base's held-out set): top-1 of the ranking 81 % and 93 % there.
LEX_WEIGHT: Final = 1.3
_ANSWER_FACTOR: Final = 0.8
CROSS_LANGUAGE_BONUS: Final = 0.08
"""Added to items in another language than the visitor's: the encoder's similarities
across languages run lower than within one, for the same meaning. (Adding it only to
the knowledge base's main language, for visitors writing in another, did worse on the
validation split.)"""
_LENGTH_WORDS: Final = 20
_CANDIDATES: Final = 10  # ranked with their features; more than any caller asks for


@attrs.frozen
class Calibration:
    """Logistic weights turning a hit's features into the probability that it is right.

    Attributes:
        hybrid: Intercept, then the weights of the five `Candidate.features`.
        lexical: Intercept and weight of the BM25 confidence (no vectors available).
    """

    hybrid: tuple[float, float, float, float, float, float]
    lexical: tuple[float, float]

    def probability(self, features: Sequence[float]) -> float:
        """The probability for one hit's features (`Candidate.features`)."""
        z = self.hybrid[0] + sum(w * x for w, x in zip(self.hybrid[1:], features, strict=True))
        return _sigmoid(z)

    def lexical_probability(self, confidence: float) -> float:
        """The probability for a BM25 confidence alone."""
        return _sigmoid(self.lexical[0] + self.lexical[1] * confidence)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


DEFAULT_CALIBRATION: Final = Calibration(
    hybrid=(-5.016, 7.114, 2.696, 0.641, 4.251, 1.714),
    lexical=(-0.51, 5.824),
)
"""Fitted on both validation sets with ``lucine kb calibrate`` given, in order, the
files ``tests/data/eval/skischool/validation.jsonl`` and
``tests/data/eval/sample/heldout.jsonl`` and ``--kb`` the ski school's
``kb.json`` and ``src/lucine_adapters/data/lucine_kb.json``."""

DEFAULT_THRESHOLD: Final = 0.29
"""The escalation threshold on calibrated confidences, chosen on the validation split."""


@attrs.frozen
class ItemVectors:
    """The vectors of one item's texts, one row per text (see `field_texts`).

    Attributes:
        question: One row.
        answer: One row.
        keywords: The keywords together, then each keyword; None when it has none.
    """

    question: Vectors
    answer: Vectors
    keywords: Vectors | None = None

    def of(self, field: str) -> Vectors | None:
        """The rows of one of `FIELDS`."""
        vector: Vectors | None = getattr(self, field)
        return vector


def field_texts(item: KnowledgeBaseItem) -> dict[str, list[str]]:
    """The texts of ``item`` that get a vector, by field (no keywords field when empty).

    Keywords get a row for all of them together and one for each: a visitor's word may
    match one keyword alone better than the list.
    """
    texts = {"question": [item.question], "answer": [item.answer]}
    if item.keywords:
        texts["keywords"] = [", ".join(item.keywords), *item.keywords]
    return texts


@attrs.frozen
class Candidate:
    """One ranked item with the features its confidence is computed from.

    Attributes:
        item: The item.
        features: ``sem``, ``lex``, the ``sem`` margin, the ``fused`` margin and the
            message's content words (at most 20) over 10.
        fused: The ranking score.
    """

    item: KnowledgeBaseItem
    features: tuple[float, float, float, float, float]
    fused: float


@attrs.frozen
class _Matrices:
    """The item vectors stacked in the order of the lexical index's items.

    ``keywords`` holds every keyword row of every item, grouped by item in item order;
    ``owners`` the positions of the items that have keywords, ``starts`` where each
    one's rows begin (for `numpy.maximum.reduceat`).
    """

    question: npt.NDArray[np.float32]
    answer: npt.NDArray[np.float32]
    keywords: npt.NDArray[np.float32]
    owners: npt.NDArray[np.intp]
    starts: npt.NDArray[np.intp]
    languages: npt.NDArray[np.str_]


class HybridKnowledgeBase:
    """The `KnowledgeBase` port in memory: BM25 and embeddings fused, calibrated.

    Items are indexed lazily, on the first call, so building one costs nothing until
    it is used. Vectors given to `load` are reused; missing ones are encoded.

    Args:
        embedder: Encodes messages and items.
        items: The initial items; ids must be unique.
        calibration: The fitted confidence model.
        threshold: The confidence a part of a multi-part question needs to count.

    Raises:
        ValidationError: two initial items share an id.
    """

    def __init__(
        self,
        embedder: Embedder,
        items: Iterable[KnowledgeBaseItem] = (),
        *,
        calibration: Calibration = DEFAULT_CALIBRATION,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self._embedder = embedder
        self._calibration = calibration
        self._threshold = threshold
        self._lexical = Bm25KnowledgeBase()
        self._vectors: dict[str, ItemVectors] = {}
        self._matrices: _Matrices | None = None
        self._pending: tuple[KnowledgeBaseItem, ...] | None = tuple(_unique(items).values())
        self._lock = asyncio.Lock()

    @property
    def embedder(self) -> Embedder:
        """The embedder that encodes messages and items."""
        return self._embedder

    async def search(
        self, query: str, *, language: Language | None = None, limit: int = 3
    ) -> Sequence[RetrievedItem]:
        """Return up to ``limit`` items that may answer ``query``, best first.

        A multi-part question whose parts each find their own item returns those items
        first, with ``part`` 1, 2, ...; then the best items for the whole message.
        """
        await self._ensure()
        if limit <= 0 or not self._lexical.items or not _WORDS.search(query):
            return []
        if self._matrices is None:  # the items' vectors could not be computed
            return self._lexical_only(query, language, limit)
        parts = split_question(query)
        try:
            vectors = await self._embedder.embed([query, *parts])
        except ExternalServiceError:
            return self._lexical_only(query, language, limit)
        whole = self._hits(self.rank(query, vectors[0], language), limit)
        return self._by_part(whole, parts, vectors[1:], language, limit) if parts else whole

    def _by_part(
        self,
        whole: list[RetrievedItem],
        parts: Sequence[str],
        vectors: Vectors,
        language: Language | None,
        limit: int,
    ) -> list[RetrievedItem]:
        """Each part's confident top item first, then the whole message's (or ``whole``)."""
        answered = []
        for text, vector in zip(parts, vectors, strict=True):
            hits = self._hits(self.rank(text, vector, language), 1)
            if not hits or hits[0].score < self._threshold:
                return whole
            answered.append(hits[0])
        ids = [hit.item.id for hit in answered]
        if len(set(ids)) < len(ids):
            return whole
        floor = min(hit.score for hit in answered)
        rest = [
            attrs.evolve(hit, score=min(hit.score, floor))
            for hit in whole
            if hit.item.id not in ids
        ]
        parted = [attrs.evolve(hit, part=n) for n, hit in enumerate(answered, start=1)]
        return [*parted, *rest][: max(limit, len(parted))]

    def rank(self, query: str, vector: Vectors, language: Language | None) -> list[Candidate]:
        """Every item that may answer ``query``, best first, with its features."""
        matrices = self._matrices
        if matrices is None or not len(matrices.languages):
            return []
        lexical = self._lexical.lexical_scores(query, language=language)
        lex = (
            np.where(lexical.covered, lexical.confidence, 0.0).astype(np.float32)
            if lexical is not None
            else np.zeros(len(matrices.languages), dtype=np.float32)
        )
        sem = np.maximum(matrices.question @ vector, _ANSWER_FACTOR * (matrices.answer @ vector))
        if len(matrices.owners):
            best = np.maximum.reduceat(matrices.keywords @ vector, matrices.starts)
            sem[matrices.owners] = np.maximum(sem[matrices.owners], best)
        fused = sem + LEX_WEIGHT * lex
        if language is not None:
            fused = fused + np.where(
                matrices.languages == language.value, 0.0, CROSS_LANGUAGE_BONUS
            )
        top = min(_CANDIDATES, len(fused))
        head = np.argpartition(-fused, top - 1)[:top] if top < len(fused) else np.arange(top)
        order = head[np.lexsort((head, -fused[head]))]  # best first, ties by position
        first, second = int(order[0]), int(order[1]) if len(order) > 1 else int(order[0])
        items = self._lexical.items
        # The two best similarities, best first (np.partition puts the 2nd in place).
        sem_best = -np.partition(-sem, 1)[:2] if len(sem) > 1 else np.concatenate([sem, sem])
        length = min(len(content_words(query)), _LENGTH_WORDS) / 10
        candidates = []
        for position in order:
            i = int(position)
            other_fused = fused[second] if i == first else fused[first]
            other_sem = sem_best[1] if sem[i] >= sem_best[0] and len(sem) > 1 else sem_best[0]
            candidates.append(
                Candidate(
                    item=items[i],
                    features=(
                        float(sem[i]),
                        float(lex[i]),
                        float(sem[i] - other_sem),
                        float(fused[i] - other_fused),
                        length,
                    ),
                    fused=float(fused[i]),
                )
            )
        return candidates

    async def explain(self, query: str, *, language: Language | None = None) -> list[Candidate]:
        """The ranked candidates for ``query`` with their features (for calibration)."""
        await self._ensure()
        vector = (await self._embedder.embed([query]))[0]
        return self.rank(query, vector, language)

    def lexical_hits(self, query: str, language: Language | None, limit: int) -> list[float]:
        """The BM25 confidences of the lexical ranking (for calibration)."""
        return [
            hit.score for hit in self._lexical.search_now(query, language=language, limit=limit)
        ]

    def _hits(self, candidates: Sequence[Candidate], limit: int) -> list[RetrievedItem]:
        results = []
        cap = 1.0
        for candidate in candidates[:limit]:
            cap = min(cap, self._calibration.probability(candidate.features))
            results.append(RetrievedItem(item=candidate.item, score=cap))
        return results

    def _lexical_only(
        self, query: str, language: Language | None, limit: int
    ) -> list[RetrievedItem]:
        return [
            attrs.evolve(hit, score=self._calibration.lexical_probability(hit.score))
            for hit in self._lexical.search_now(query, language=language, limit=limit)
        ]

    async def get(self, item_id: str) -> KnowledgeBaseItem:
        """Return one item.

        Raises:
            NotFoundError: no item has that id.
        """
        await self._ensure()
        return await self._lexical.get(item_id)

    async def list_items(self) -> Sequence[KnowledgeBaseItem]:
        """Return every item, ordered by id."""
        await self._ensure()
        return self._lexical.items

    async def upsert(self, item: KnowledgeBaseItem) -> None:
        """Add the item, or replace the item with the same id; searchable on return."""
        await self._ensure()
        items = {existing.id: existing for existing in self._lexical.items}
        items[item.id] = item
        vectors = {k: v for k, v in self._vectors.items() if k != item.id}
        await self.load(list(items.values()), vectors)

    async def delete(self, item_id: str) -> None:
        """Remove one item.

        Raises:
            NotFoundError: no item has that id.
        """
        await self._ensure()
        items = [item for item in self._lexical.items if item.id != item_id]
        if len(items) == len(self._lexical.items):
            raise NotFoundError(kind="knowledge base item", key=item_id)
        await self.load(items, self._vectors)

    async def replace_all(self, items: Sequence[KnowledgeBaseItem]) -> None:
        """Replace the whole knowledge base at once (an import).

        Raises:
            ValidationError: two items share an id; nothing is changed then.
        """
        _unique(items)
        await self.load(items, {})

    async def encode(self, items: Sequence[KnowledgeBaseItem]) -> dict[str, ItemVectors]:
        """Encode the texts of ``items`` (in one batch), by item id.

        Raises:
            ExternalServiceError: the embedder failed.
        """
        keys = [
            (item.id, field, text)
            for item in items
            for field, texts in field_texts(item).items()
            for text in texts
        ]
        if not keys:
            return {}
        vectors = await self._embedder.embed([text for _, _, text in keys])
        rows: dict[str, dict[str, list[Vectors]]] = {}
        for (item_id, field, _), vector in zip(keys, vectors, strict=True):
            rows.setdefault(item_id, {}).setdefault(field, []).append(vector)
        return {
            item_id: ItemVectors(**{field: np.stack(found) for field, found in fields.items()})
            for item_id, fields in rows.items()
        }

    async def load(
        self, items: Sequence[KnowledgeBaseItem], vectors: Mapping[str, ItemVectors]
    ) -> dict[str, ItemVectors]:
        """Replace every item, reusing ``vectors`` where given; return the ones encoded.

        Vectors of an item whose texts changed must not be passed (they are trusted).
        If the embedder fails, the items are still searchable lexically.

        Raises:
            ValidationError: two items share an id; nothing is changed then.
        """
        by_id = _unique(items)
        self._pending = None  # what is loaded now supersedes the initial items
        missing = [item for item in by_id.values() if item.id not in vectors]
        try:
            fresh = await self.encode(missing)
        except ExternalServiceError:
            fresh = {}
        known = {**{k: v for k, v in vectors.items() if k in by_id}, **fresh}
        await self._lexical.replace_all(list(by_id.values()))
        self._vectors = known
        self._matrices = _stack(self._lexical.items, known)
        release_freed_memory()
        return fresh

    async def _ensure(self) -> None:
        if self._pending is None:
            return
        async with self._lock:
            if self._pending is not None:
                pending, self._pending = self._pending, None
                await self.load(pending, {})


def _stack(
    items: Sequence[KnowledgeBaseItem], vectors: Mapping[str, ItemVectors]
) -> _Matrices | None:
    """The matrices of ``items``; None unless every item has vectors of one width."""
    if not items or any(item.id not in vectors for item in items):
        return None
    rows = [vectors[item.id] for item in items]
    if len({row.question.shape[-1] for row in rows}) != 1:
        return None
    width = rows[0].question.shape[-1]
    keywords = [(n, row.keywords) for n, row in enumerate(rows) if row.keywords is not None]
    return _Matrices(
        question=np.vstack([row.question for row in rows]).astype(np.float32),
        answer=np.vstack([row.answer for row in rows]).astype(np.float32),
        keywords=(
            np.vstack([k for _, k in keywords]).astype(np.float32)
            if keywords
            else np.zeros((0, width), dtype=np.float32)
        ),
        owners=np.array([n for n, _ in keywords], dtype=np.intp),
        starts=np.cumsum([0, *(len(k) for _, k in keywords[:-1])], dtype=np.intp),
        languages=np.array([item.language.value for item in items], dtype=np.str_),
    )


def _unique(items: Iterable[KnowledgeBaseItem]) -> dict[str, KnowledgeBaseItem]:
    by_id: dict[str, KnowledgeBaseItem] = {}
    for item in items:
        if item.id in by_id:
            raise ValidationError(field="id", reason=f"duplicate id {item.id!r}")
        by_id[item.id] = item
    return by_id


# Words that start a new question after a conjunction: "... e dove parcheggio?".
_NEW_QUESTION: Final = [
    "dove",
    "quando",
    "quanto",
    "quanta",
    "quanti",
    "quante",
    "come",
    "cosa",
    "che",
    "chi",
    "qual",
    "quale",
    "quali",
    "perche",
    "se",
    "ce",
    "ci",
    "posso",
    "possiamo",
    "si",
    "avete",
    "fate",
    "serve",
    "servono",
    "bisogna",
    "anche",
    "inoltre",
    "poi",
    "where",
    "when",
    "how",
    "what",
    "which",
    "who",
    "can",
    "could",
    "do",
    "does",
    "is",
    "are",
    "also",
    "wo",
    "wann",
    "wie",
    "was",
    "welche",
    "welcher",
    "welches",
    "wer",
    "kann",
    "konnen",
    "gibt",
    "ist",
    "sind",
    "muss",
    "auch",
]
_CONJUNCTION: Final = re.compile(
    r"\s(?:e|ed|and|und|oppure|or|oder|inoltre|also|ausserdem)\s+(?=(?:"
    + "|".join(_NEW_QUESTION)
    + r")\b)"
)
_QUESTION_MARK: Final = re.compile(r"\?+\s*")
_WORDS: Final = re.compile(r"[^\W_]")
_MIN_PART_WORDS: Final = 2
_MIN_PARTS: Final = 2
_MAX_PARTS: Final = 3


def split_question(text: str) -> list[str]:
    """Split a message asking two or three things into its questions; [] for one question.

    Splits at question marks followed by more text, then at a conjunction followed by
    a word that starts a new question ("e dove", "and how", "und wann"). Each part
    needs at least two words.
    """
    folded = fold(text).replace("'", " ")
    pieces = [piece for piece in _QUESTION_MARK.split(folded) if piece.strip()]
    parts: list[str] = []
    for piece in pieces:
        parts.extend(part for part in _CONJUNCTION.split(f" {piece} ") if part.strip())
    parts = [part.strip(" ,;.!") for part in parts]
    if not _MIN_PARTS <= len(parts) <= _MAX_PARTS or any(
        len(part.split()) < _MIN_PART_WORDS for part in parts
    ):
        return []
    return parts
