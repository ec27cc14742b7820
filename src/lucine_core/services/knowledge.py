"""Knowledge-base management: browse, search, add, edit, delete and import items; try a question.

Every operator may read the knowledge base and try questions; only admins change it, and
each change is written to the audit trail. The knowledge base is its own port (not part
of the unit of work), so a change is made first and audited right after.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

import attrs

from lucine_core import escalation as esc
from lucine_core.actors import SYSTEM, Actor
from lucine_core.enums import AuditAction, EscalationReason, Language
from lucine_core.errors import ConflictError, NotFoundError
from lucine_core.kb import KnowledgeBaseItem, RetrievedItem, Turn, item_matches, new_item
from lucine_core.language import detect_language
from lucine_core.ports import UnitOfWork
from lucine_core.services.answering import compose_answer
from lucine_core.services.common import active_operator, require_admin, write_audit
from lucine_core.services.context import Services, transaction
from lucine_core.text import clean_text, fold

__all__ = [
    "ChangedItem",
    "KbChanges",
    "Trial",
    "compare_kb",
    "create_kb_item",
    "delete_kb_item",
    "get_kb_item",
    "import_kb",
    "list_kb_items",
    "try_question",
    "update_kb_item",
]

_MAX_QUERY = 200
_FIELDS = ("question", "answer", "keywords", "language")
_WORD = re.compile(r"\w+")


@attrs.frozen(kw_only=True)
class Trial:
    """What the assistant would answer to a question opening a new chat.

    Attributes:
        language: The language it would answer in.
        text: The reply.
        sources: The items the reply cites.
        confidence: The responder's confidence in [0, 1].
        retrieved: Every item retrieval found, best first, with its score.
        offer_human: Whether the smart actions to reach a human would be shown.
        reasons: Why a human would be offered.
    """

    language: Language
    text: str
    sources: tuple[str, ...]
    confidence: float
    retrieved: tuple[RetrievedItem, ...]
    offer_human: bool
    reasons: tuple[EscalationReason, ...]


async def list_kb_items(
    services: Services, *, query: str = "", language: Language | None = None
) -> Sequence[KnowledgeBaseItem]:
    """Every item, by id; with ``query``, those containing all its words (any case/accent)."""
    query = query.strip()[:_MAX_QUERY]
    return [
        item
        for item in await services.kb.list_items()
        if (language is None or item.language is language) and item_matches(item, query)
    ]


async def get_kb_item(services: Services, item_id: str) -> KnowledgeBaseItem:
    """One item.

    Raises:
        NotFoundError: no item has that id.
    """
    return await services.kb.get(item_id)


async def _require_admin(services: Services, actor_id: str, action: str) -> None:
    async def check(uow: UnitOfWork) -> None:
        require_admin(await active_operator(uow, actor_id), action)

    await transaction(services, check)


async def _audit(services: Services, actor_id: str, action: AuditAction, item_id: str) -> None:
    async def write(uow: UnitOfWork) -> None:
        now = services.clock.now()
        await write_audit(uow, Actor.operator(actor_id), action, now, item_id)

    await transaction(services, write)


async def _exists(services: Services, item_id: str) -> bool:
    try:
        await services.kb.get(item_id)
    except NotFoundError:
        return False
    return True


async def _save(
    services: Services, actor_id: str, item: KnowledgeBaseItem, *, new: bool
) -> KnowledgeBaseItem:
    item = new_item(
        item_id=item.id,
        question=item.question,
        answer=item.answer,
        keywords=item.keywords,
        language=item.language,
    )
    await _require_admin(services, actor_id, "change the knowledge base")
    exists = await _exists(services, item.id)
    if new and exists:
        raise ConflictError(reason=f"a knowledge base item with id {item.id!r} exists")
    if not new and not exists:
        raise NotFoundError(kind="knowledge base item", key=item.id)
    await services.kb.upsert(item)
    action = AuditAction.CREATE_KB_ITEM if new else AuditAction.UPDATE_KB_ITEM
    await _audit(services, actor_id, action, item.id)
    return item


async def create_kb_item(
    services: Services, *, actor_id: str, item: KnowledgeBaseItem
) -> KnowledgeBaseItem:
    """Add an item (its fields checked as `new_item` does); it answers visitors at once.

    Raises:
        ValidationError: a field is empty, too long or malformed.
        ConflictError: an item has that id.
        PermissionDeniedError: the actor is not an admin.
    """
    return await _save(services, actor_id, item, new=True)


async def update_kb_item(
    services: Services, *, actor_id: str, item: KnowledgeBaseItem
) -> KnowledgeBaseItem:
    """Replace the text of the item with ``item.id``; visitors get the new answer at once.

    Raises:
        ValidationError: a field is empty, too long or malformed.
        NotFoundError: no item has that id.
        PermissionDeniedError: the actor is not an admin.
    """
    return await _save(services, actor_id, item, new=False)


async def delete_kb_item(services: Services, *, actor_id: str, item_id: str) -> None:
    """Remove an item; it no longer answers anyone.

    Raises:
        NotFoundError: no item has that id.
        PermissionDeniedError: the actor is not an admin.
    """
    await _require_admin(services, actor_id, "change the knowledge base")
    await services.kb.delete(item_id)
    await _audit(services, actor_id, AuditAction.DELETE_KB_ITEM, item_id)


async def try_question(
    services: Services, *, question: str, language: Language | None = None
) -> Trial:
    """What the assistant would answer if a visitor opened a chat with ``question``.

    Nothing is stored. ``language`` defaults to the one detected in the question.

    Raises:
        ValidationError: the question is empty, too long or has control characters.
    """
    question = clean_text(question, field="question")
    language = language or detect_language(question, Language.IT)

    async def no_history() -> tuple[tuple[Turn, ...], int]:
        return (), 0

    composed = await compose_answer(
        services,
        text=question,
        language=language,
        state=esc.EscalationState(),
        history=no_history,
    )
    return Trial(
        language=language,
        text=composed.answer.text,
        sources=composed.answer.sources,
        confidence=composed.answer.confidence,
        retrieved=composed.retrieved,
        offer_human=composed.decision.offer,
        reasons=composed.decision.reasons,
    )


@attrs.frozen(kw_only=True)
class ChangedItem:
    """An item of an import whose id is stored with other content.

    Attributes:
        id: The item's id.
        fields: What differs: ``question``, ``answer``, ``keywords``, ``language``.
    """

    id: str
    fields: tuple[str, ...]


@attrs.frozen(kw_only=True)
class KbChanges:
    """What importing items does to the stored knowledge base (an import replaces it all).

    Changed items are the ordinary edit-the-file-and-import-again; the two kinds of
    conflict are what a careful editor would want pointed out before importing, since
    neither is refused:

    Attributes:
        new: Ids imported that are not stored, in the import's order.
        changed: Items stored under the same id with other content.
        removed: Stored ids the import does not have, by id.
        unchanged: How many imported items are stored exactly so.
        same_question: Groups of imported ids asking the same question in the same
            language (case, accents, spaces and punctuation aside): retrieval cannot tell them
            apart, so a visitor may get either answer.
        renamed: ``(removed id, new id)`` pairs asking the same question in the same
            language: probably one item whose id was changed, which breaks the links to it
            (sources cited in earlier chats, labelled evaluation sets).
    """

    new: tuple[str, ...] = ()
    changed: tuple[ChangedItem, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    same_question: tuple[tuple[str, ...], ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()

    @property
    def replaces_stored(self) -> bool:
        """Whether the import would change or remove a stored item."""
        return bool(self.changed or self.removed)


def _question_key(item: KnowledgeBaseItem) -> tuple[str, Language]:
    return "".join(_WORD.findall(fold(item.question))), item.language


def compare_kb(
    stored: Sequence[KnowledgeBaseItem], incoming: Sequence[KnowledgeBaseItem]
) -> KbChanges:
    """What replacing the ``stored`` items by the ``incoming`` ones would change.

    >>> old = [KnowledgeBaseItem(id="a", question="Orari?", answer="9-18")]
    >>> new = [KnowledgeBaseItem(id="b", question="orari", answer="9-18")]
    >>> changes = compare_kb(old, new)
    >>> changes.new, changes.removed, changes.renamed
    (('b',), ('a',), (('a', 'b'),))
    """
    by_id = {item.id: item for item in stored}
    incoming_ids = {item.id for item in incoming}
    new: list[str] = []
    changed: list[ChangedItem] = []
    for item in incoming:
        old = by_id.get(item.id)
        if old is None:
            new.append(item.id)
            continue
        fields = tuple(f for f in _FIELDS if getattr(old, f) != getattr(item, f))
        if fields:
            changed.append(ChangedItem(id=item.id, fields=fields))
    removed = sorted(item_id for item_id in by_id if item_id not in incoming_ids)
    asking: dict[tuple[str, Language], list[str]] = defaultdict(list)
    for item in incoming:
        asking[_question_key(item)].append(item.id)
    added = set(new)
    renamed = [
        (item_id, successors[0])
        for item_id in removed
        if (successors := [i for i in asking.get(_question_key(by_id[item_id]), ()) if i in added])
    ]
    return KbChanges(
        new=tuple(new),
        changed=tuple(changed),
        removed=tuple(removed),
        unchanged=len(incoming) - len(new) - len(changed),
        same_question=tuple(tuple(ids) for ids in asking.values() if len(ids) > 1),
        renamed=tuple(renamed),
    )


async def import_kb(
    services: Services, *, actor_id: str | None, items: Sequence[KnowledgeBaseItem]
) -> KbChanges:
    """Replace the whole knowledge base with ``items`` at once; every change is audited.

    ``actor_id`` None is the local command line (audited as ``system``). Each new,
    changed and removed item gets its own audit entry (``via=import``), so the trail
    says when every item last changed.

    Raises:
        ValidationError: two items share an id; nothing is changed then.
        PermissionDeniedError: the actor is not an admin.
    """
    actor = SYSTEM
    if actor_id is not None:
        await _require_admin(services, actor_id, "change the knowledge base")
        actor = Actor.operator(actor_id)
    changes = compare_kb(await services.kb.list_items(), items)
    await services.kb.replace_all(items)
    entries = [
        *((AuditAction.CREATE_KB_ITEM, item_id) for item_id in changes.new),
        *((AuditAction.UPDATE_KB_ITEM, item.id) for item in changes.changed),
        *((AuditAction.DELETE_KB_ITEM, item_id) for item_id in changes.removed),
    ]

    async def write(uow: UnitOfWork) -> None:
        now = services.clock.now()
        for action, item_id in entries:
            await write_audit(uow, actor, action, now, item_id, via="import")

    await transaction(services, write)
    return changes
