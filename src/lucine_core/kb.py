"""Knowledge-base items, what retrieval returns, and what a responder is asked and answers."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Final

import attrs

from lucine_core.enums import Language, Sender
from lucine_core.errors import ValidationError
from lucine_core.text import clean_text, fold

__all__ = [
    "ITEM_ID",
    "MAX_LENGTH",
    "RESERVED_IDS",
    "Answer",
    "AnswerRequest",
    "KnowledgeBaseItem",
    "RetrievedItem",
    "TextSink",
    "Turn",
    "item_matches",
    "new_item",
]

# Ids are cited as sources in replies and typed in URLs, so keep them plain.
ITEM_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Paths under /api/kb that are not items: an item of that id could not be read back.
RESERVED_IDS: Final = frozenset({"gaps", "try"})
MAX_LENGTH: Final = {"question": 500, "answer": 5000, "keyword": 200}
MAX_KEYWORDS: Final = 50

TextSink = Callable[[str], Awaitable[None]]
"""Receives a reply's text piece by piece while a responder is still writing it."""


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

    The score is meant to be read as a confidence: the probability that the item
    answers the question (or, for a multi-part question, its part ``part``).

    Attributes:
        item: The item.
        score: The confidence.
        part: 0 when the item answers the whole question; 1, 2, ... when the question
            asks several things and the item answers that part of it.
    """

    item: KnowledgeBaseItem
    score: float
    part: int = 0


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
    tokens_used: int = 0
    """Model tokens this chat has used so far (for a per-chat budget)."""


@attrs.frozen(kw_only=True)
class Answer:
    """A responder's reply.

    Attributes:
        text: What the visitor reads.
        sources: Ids of the knowledge-base items the reply is based on.
        confidence: How sure the responder is, in [0, 1].
        input_tokens: Tokens the model read (0 for the offline responder).
        output_tokens: Tokens the model wrote.
    """

    text: str
    sources: tuple[str, ...] = ()
    confidence: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0


def new_item(
    *,
    item_id: str,
    question: str,
    answer: str,
    keywords: Iterable[str] = (),
    language: Language = Language.IT,
) -> KnowledgeBaseItem:
    """Validate the fields of an item and build it; blank keywords are dropped.

    Raises:
        ValidationError: naming the field (``id``, ``question``, ``answer``, ``keywords``).
    """
    item_id = item_id.strip()
    if not ITEM_ID.fullmatch(item_id):
        raise ValidationError(
            field="id",
            reason="must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    if item_id.lower() in RESERVED_IDS:
        raise ValidationError(field="id", reason=f"{item_id!r} is reserved; choose another id")
    kept = tuple(
        clean_text(k, field="keywords", max_length=MAX_LENGTH["keyword"])
        for k in keywords
        if k.strip()
    )
    if len(kept) > MAX_KEYWORDS:
        raise ValidationError(field="keywords", reason=f"at most {MAX_KEYWORDS} keywords")
    return KnowledgeBaseItem(
        id=item_id,
        question=clean_text(question, field="question", max_length=MAX_LENGTH["question"]),
        answer=clean_text(answer, field="answer", max_length=MAX_LENGTH["answer"]),
        keywords=kept,
        language=language,
    )


def item_matches(item: KnowledgeBaseItem, query: str) -> bool:
    """Whether every word of ``query`` occurs in the item (accents and case ignored).

    >>> item = KnowledgeBaseItem(id="cani", question="Posso portare il cane?", answer="Sì.")
    >>> item_matches(item, "CANE portare"), item_matches(item, "gatto")
    (True, False)
    """
    haystack = fold(" ".join((item.id, item.question, item.answer, *item.keywords)))
    return all(word in haystack for word in fold(query).split())
