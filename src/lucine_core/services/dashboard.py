"""The operators' lists: pending chats in queue order and active chats by filter."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from lucine_core.enums import Sender, SessionStatus
from lucine_core.errors import ValidationError
from lucine_core.messages import Message
from lucine_core.ports import UnitOfWork
from lucine_core.queue import QueueEntry
from lucine_core.services.common import QueueContext, queue_context
from lucine_core.services.context import Services
from lucine_core.services.views import ChatSummary
from lucine_core.session import HELD, ChatSession
from lucine_core.sla import check

__all__ = [
    "PREVIEW_LENGTH",
    "ChatFilter",
    "active_chats",
    "list_chats",
    "pending_chats",
    "preview",
]

PREVIEW_LENGTH = 160
"""The most of a message a list row carries: enough to choose a chat by."""

_OPEN = (
    SessionStatus.ACTIVE,
    SessionStatus.IDLE,
    SessionStatus.WITH_OPERATOR,
    SessionStatus.WAITING_CLIENT,
)


class ChatFilter(enum.StrEnum):
    """v2.7's active-chats filters."""

    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    WAITING = "waiting"
    ALL = "all"

    @classmethod
    def parse(cls, value: str) -> ChatFilter:
        """Parse a filter name.

        Raises:
            ValidationError: not one of assigned, unassigned, waiting, all.
        """
        try:
            return cls(value)
        except ValueError:
            raise ValidationError(
                field="filter", reason="must be assigned, unassigned, waiting or all"
            ) from None


def preview(text: str, limit: int = PREVIEW_LENGTH) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters.

    A cut preview ends with "…", counted in ``limit``; a word longer than half of
    ``limit`` is cut where the limit falls.
    """
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if flat[limit - 1] != " " and space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _summary(  # noqa: PLR0917 - a private helper called once, with everything it shows
    services: Services,
    session: ChatSession,
    last: Message | None,
    asked: Message | None,
    entry: QueueEntry | None,
    context: QueueContext,
) -> ChatSummary:
    now = services.clock.now()
    sla_policy = services.policies.sla
    sla = None
    if entry is not None:
        sla = check(
            started_at=entry.requested_at,
            target=sla_policy.queue_wait,
            now=now,
            warning_ratio=sla_policy.warning_ratio,
        )
    elif session.is_held and session.assigned_at is not None:
        sla = check(
            started_at=session.assigned_at,
            target=sla_policy.first_response,
            now=now,
            done_at=session.operator_replied_at,
            warning_ratio=sla_policy.warning_ratio,
        )
    return ChatSummary(
        session_id=session.id,
        status=session.status,
        language=session.language,
        created_at=session.created_at,
        last_activity_at=session.last_activity_at,
        operator_id=session.operator_id if session.is_held else None,
        message_count=session.message_count,
        last_message=preview(last.text) if last else None,
        last_visitor_message=preview(asked.text) if asked else None,
        queue=context.info(session.id) if entry else None,
        requested_at=entry.requested_at if entry else None,
        waited_seconds=(
            max(0, round((now - entry.requested_at).total_seconds())) if entry else None
        ),
        sla=sla,
    )


async def _summaries(
    uow: UnitOfWork,
    services: Services,
    sessions: Sequence[ChatSession],
    waiting: Mapping[str, QueueEntry],
    context: QueueContext,
) -> list[ChatSummary]:
    """Summaries of ``sessions``, their last messages (any, and the visitor's) read in bulk."""
    ids = [s.id for s in sessions]
    latest = await uow.messages.latest(ids)
    asked = await uow.messages.latest(ids, sender=Sender.USER)
    return [
        _summary(services, s, latest.get(s.id), asked.get(s.id), waiting.get(s.id), context)
        for s in sessions
    ]


async def pending_chats(services: Services) -> Sequence[ChatSummary]:
    """Chats waiting for a human, in the order they will be served."""
    async with services.uow(read_only=True) as uow:
        context = await queue_context(uow, services)
        waiting = {e.session_id: e for e in context.waiting}
        found = await uow.sessions.list(ids=list(waiting), limit=len(waiting))
        by_id = {s.id: s for s in found}
        # Queue order; an entry whose session has gone is left out.
        ordered = [by_id[e.session_id] for e in context.waiting if e.session_id in by_id]
        return await _summaries(uow, services, ordered, waiting, context)


async def active_chats(
    services: Services, *, chat_filter: ChatFilter = ChatFilter.ALL, limit: int = 200
) -> Sequence[ChatSummary]:
    """Open chats: held by an operator, with the assistant, queued, or all of them."""
    if chat_filter is ChatFilter.WAITING:
        return await pending_chats(services)
    statuses: Sequence[SessionStatus] = {
        ChatFilter.ASSIGNED: tuple(HELD),
        ChatFilter.UNASSIGNED: (SessionStatus.ACTIVE, SessionStatus.IDLE),
        ChatFilter.ALL: _OPEN,
    }[chat_filter]
    return await list_chats(services, statuses=statuses, limit=limit)


async def list_chats(
    services: Services,
    *,
    statuses: Sequence[SessionStatus] | None = None,
    operator_id: str | None = None,
    limit: int = 200,
) -> Sequence[ChatSummary]:
    """Chats in ``statuses`` (closed ones too; the open ones if None), newest activity first.

    With ``operator_id``, only the chats that operator holds now.
    """
    statuses = _OPEN if statuses is None else statuses
    if operator_id is not None:
        statuses = [s for s in statuses if s in HELD]
        if not statuses:
            return []
    async with services.uow(read_only=True) as uow:
        context = await queue_context(uow, services)
        waiting = {e.session_id: e for e in context.waiting}
        found = await uow.sessions.list(statuses=statuses, operator_id=operator_id, limit=limit)
        return await _summaries(uow, services, found, waiting, context)
