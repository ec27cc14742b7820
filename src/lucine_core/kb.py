"""Knowledge-base items, what retrieval returns, and what a responder is asked and answers."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from lucine_core.enums import Language, Sender

__all__ = [
    "Answer",
    "AnswerRequest",
    "KnowledgeBaseItem",
    "RetrievedItem",
    "Turn",
]


@attrs.frozen(kw_only=True)
class KnowledgeBaseItem:
    """One question/answer pair of the shop's knowledge base.

    Attributes:
        id: Stable identifier, cited in replies as a source.
        question: The canonical question.
        answer: The answer shown to visitors.
        keywords: Extra terms that should find this item (synonyms, slang).
        language: The language the item is written in.
    """

    id: str
    question: str
    answer: str
    keywords: tuple[str, ...] = ()
    language: Language = Language.IT


@attrs.frozen(kw_only=True)
class RetrievedItem:
    """A knowledge-base item found for a question, with a calibrated score in [0, 1].

    The score is meant to be read as a confidence: around 0.5 and above the item very
    likely answers the question; well below, it probably does not.
    """

    item: KnowledgeBaseItem
    score: float


@attrs.frozen(kw_only=True)
class Turn:
    """One earlier message of the conversation, as a responder sees it."""

    sender: Sender
    text: str


@attrs.frozen(kw_only=True)
class AnswerRequest:
    """What a responder is asked: the question in context, grounded in retrieved items."""

    question: str
    language: Language
    history: Sequence[Turn] = ()
    retrieved: Sequence[RetrievedItem] = ()


@attrs.frozen(kw_only=True)
class Answer:
    """A responder's reply.

    Attributes:
        text: What the visitor reads.
        sources: Ids of the knowledge-base items the reply is based on.
        confidence: How sure the responder is, in [0, 1].
    """

    text: str
    sources: tuple[str, ...] = ()
    confidence: float = 0.0
