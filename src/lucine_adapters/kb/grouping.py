"""Grouping visitor questions by meaning, for the knowledge-gaps report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from lucine_adapters.kb.analysis import content_words
from lucine_adapters.kb.embedding import Embedder
from lucine_core.errors import ExternalServiceError

__all__ = ["EmbeddingGrouper"]

SIMILARITY: Final = 0.6
"""Cosine from which two questions count as asking the same thing (bundled encoder)."""


class EmbeddingGrouper:
    """The `TextGrouper` port over sentence vectors: greedy clustering around leaders.

    Texts are taken in order; each joins the group whose first member (its leader)
    is most similar, if at least ``similarity``, else starts a group. When the
    embedder fails, texts with the same content words are grouped.
    """

    def __init__(self, embedder: Embedder, *, similarity: float = SIMILARITY) -> None:
        self._embedder = embedder
        self._similarity = similarity

    async def group(self, texts: Sequence[str]) -> list[list[int]]:
        """The indices of ``texts`` in groups of like meaning."""
        if not texts:
            return []
        try:
            vectors = await self._embedder.embed(list(texts))
        except ExternalServiceError:
            return _by_words(texts)
        leaders: list[int] = []
        groups: list[list[int]] = []
        for index in range(len(texts)):
            if leaders:
                similarity = vectors[leaders] @ vectors[index]
                best = int(np.argmax(similarity))
                if float(similarity[best]) >= self._similarity:
                    groups[best].append(index)
                    continue
            leaders.append(index)
            groups.append([index])
        return groups


def _by_words(texts: Sequence[str]) -> list[list[int]]:
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, text in enumerate(texts):
        groups.setdefault(tuple(sorted(set(content_words(text)))), []).append(index)
    return list(groups.values())
