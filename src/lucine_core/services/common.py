"""Small steps shared by the use cases: saving a session with its events, auditing, queue info."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from lucine_core import events as ev
from lucine_core.actors import Actor
from lucine_core.audit import AuditEntry
from lucine_core.enums import AuditAction, Sender, SessionStatus
from lucine_core.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from lucine_core.messages import Message, MessageMeta
from lucine_core.operators import Operator
from lucine_core.phrases import say
from lucine_core.ports import RealtimeEvent, UnitOfWork
from lucine_core.queue import QueueEntry, estimate_wait, queue_position
from lucine_core.services.context import Services
from lucine_core.services.views import QueueInfo
from lucine_core.session import ChatSession
from lucine_core.tickets import InternalNote

__all__ = [
    "OPERATORS_CHANNEL",
    "QueueContext",
    "active_operator",
    "add_message",
    "close_session",
    "ensure_may_act",
    "message_event",
    "queue_context",
    "queue_info",
    "require_admin",
    "save_session",
    "session_channel",
    "store_note",
    "system_message",
    "write_audit",
]

OPERATORS_CHANNEL = "operators"
_WAIT_HISTORY = timedelta(hours=1)


def session_channel(session_id: str) -> str:
    """The realtime channel of one visitor's session."""
    return f"session:{session_id}"


async def save_session(uow: UnitOfWork, session: ChatSession, *, new: bool = False) -> None:
    """Store the session (add or versioned update) and the events it recorded."""
    if new:
        await uow.sessions.add(session)
    else:
        await uow.sessions.update(session)
    events = session.take_events()
    if events:
        await uow.events.add(events)


async def add_message(
    uow: UnitOfWork,
    services: Services,
    session: ChatSession,
    *,
    sender: Sender,
    text: str,
    at: datetime,
    operator_id: str | None = None,
    meta: MessageMeta = MessageMeta(),
    response_ms: int | None = None,
    client_message_id: str | None = None,
) -> Message:
    """Append a message to the session and store it (the session is saved by the caller)."""
    message = session.add_message(
        message_id=services.ids.new_id(),
        sender=sender,
        text=text,
        at=at,
        operator_id=operator_id,
        meta=meta,
        response_ms=response_ms,
        client_message_id=client_message_id,
    )
    await uow.messages.add(message)
    return message


async def system_message(
    uow: UnitOfWork,
    services: Services,
    session: ChatSession,
    key: str,
    *,
    at: datetime,
    kind: str | None = None,
    operator_name: str | None = None,
    **values: object,
) -> Message:
    """Append a SYSTEM message in the visitor's language."""
    return await add_message(
        uow,
        services,
        session,
        sender=Sender.SYSTEM,
        text=say(key, session.language, **values),
        at=at,
        meta=MessageMeta(kind=kind or key, operator_name=operator_name),
    )


async def write_audit(
    uow: UnitOfWork,
    actor: Actor,
    action: AuditAction,
    at: datetime,
    subject: str = "",
    **details: str,
) -> None:
    """Append one line to the audit trail."""
    await uow.audit.add(
        AuditEntry(at=at, actor=str(actor), action=action, subject=subject, details=details)
    )


async def active_operator(uow: UnitOfWork, operator_id: str) -> Operator:
    """Load an operator who may act now.

    Raises:
        AuthenticationError: unknown or disabled operator (a stale token, typically).
    """
    try:
        operator = await uow.operators.get(operator_id)
    except NotFoundError:
        raise AuthenticationError() from None
    if operator.disabled:
        raise AuthenticationError()
    return operator


def require_admin(operator: Operator, action: str) -> None:
    """Raise unless the operator is an admin.

    Raises:
        PermissionDeniedError: not an admin.
    """
    if not operator.is_admin:
        raise PermissionDeniedError(action=action)


@attrs.frozen(kw_only=True)
class QueueContext:
    """What every waiting visitor's estimate depends on, read once for a whole list."""

    waiting: Sequence[QueueEntry]
    free_slots: int
    online: int
    recent_waits: Sequence[timedelta]

    def info(self, session_id: str) -> QueueInfo | None:
        """The session's place and estimated wait, or None if it is not waiting."""
        position = queue_position(session_id, self.waiting)
        if position is None:
            return None
        wait = estimate_wait(
            position, self.recent_waits, free_slots=self.free_slots, online_operators=self.online
        )
        return QueueInfo(position=position, estimated_wait_seconds=round(wait.total_seconds()))


async def queue_context(uow: UnitOfWork, services: Services) -> QueueContext:
    """Read the queue, the online operators' free capacity and the recent waits."""
    operators = [o for o in await uow.operators.list() if o.receives_chats]
    loads = await uow.sessions.loads()
    return QueueContext(
        waiting=await uow.queue.list_waiting(),
        free_slots=sum(max(0, o.capacity - loads.get(o.id, 0)) for o in operators),
        online=len(operators),
        recent_waits=await uow.queue.recent_waits(services.clock.now() - _WAIT_HISTORY),
    )


async def queue_info(uow: UnitOfWork, services: Services, session_id: str) -> QueueInfo | None:
    """The session's place in the queue and an estimated wait, or None if not waiting."""
    if await uow.queue.waiting_for(session_id) is None:
        return None
    return (await queue_context(uow, services)).info(session_id)


def message_event(message: Message) -> RealtimeEvent:
    """The realtime push announcing a new message of a session."""
    return RealtimeEvent(
        channel=session_channel(message.session_id),
        kind="message",
        data={"seq": message.seq, "sender": message.sender.value},
    )


def ensure_may_act(operator: Operator, session: ChatSession, action: str) -> None:
    """The holder acts on a held chat; an admin may act on anyone's.

    Raises:
        PermissionDeniedError: neither the holder nor an admin.
    """
    if not operator.is_admin:
        session.ensure_holder(operator.id, action)


async def store_note(
    uow: UnitOfWork, services: Services, session_id: str, operator_id: str, text: str
) -> InternalNote:
    """Store an internal note and its internal_note_added event."""
    now = services.clock.now()
    note = InternalNote(
        id=services.ids.new_id(), session_id=session_id, operator_id=operator_id, text=text, at=now
    )
    await uow.notes.add(note)
    await uow.events.add(
        [
            ev.AnalyticsEvent(
                payload=ev.InternalNoteAdded(length=len(text)),
                at=now,
                session_id=session_id,
                operator_id=operator_id,
            )
        ]
    )
    return note


async def close_session(
    uow: UnitOfWork,
    services: Services,
    session: ChatSession,
    *,
    operator_id: str,
    status: SessionStatus,
    reason: str,
) -> Message:
    """Close a held chat, ask the visitor for a rating, audit and save; returns the message."""
    now = services.clock.now()
    session.close(status, actor=Actor.operator(operator_id), at=now, reason=reason)
    message = await system_message(uow, services, session, "closed", at=now, kind="rating_request")
    await write_audit(
        uow,
        Actor.operator(operator_id),
        AuditAction.STATUS_CHANGE,
        now,
        session.id,
        status=status.value,
    )
    await save_session(uow, session)
    return message
