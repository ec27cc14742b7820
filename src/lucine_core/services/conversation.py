"""Operator-side use cases on one chat: reply, transfer, hand back, close, notes, history."""

from __future__ import annotations

from datetime import timedelta

from lucine_core import events as ev
from lucine_core.actors import SYSTEM, Actor
from lucine_core.enums import AuditAction, Sender, SessionStatus
from lucine_core.errors import ValidationError
from lucine_core.messages import Message, MessageMeta
from lucine_core.ports import RealtimeEvent, UnitOfWork
from lucine_core.services.common import (
    OPERATORS_CHANNEL,
    active_operator,
    add_message,
    close_session,
    ensure_may_act,
    message_event,
    save_session,
    store_note,
    system_message,
    write_audit,
)
from lucine_core.services.context import Services, publish_all, transaction
from lucine_core.services.handoff import assign_waiting
from lucine_core.services.retries import find_retried
from lucine_core.services.views import History
from lucine_core.text import check_client_message_id, clean_text
from lucine_core.tickets import InternalNote

__all__ = [
    "HISTORY_AUDIT_WINDOW",
    "add_note",
    "close_chat",
    "hand_back",
    "history",
    "operator_message",
    "transfer",
    "update_status",
]

_CLOSING = (SessionStatus.RESOLVED, SessionStatus.NOT_RESOLVED, SessionStatus.CANCELLED)


async def operator_message(
    services: Services,
    *,
    operator_id: str,
    session_id: str,
    text: str,
    client_message_id: str | None = None,
) -> Message:
    """The holding operator writes to the visitor.

    A message sent again with the same ``client_message_id`` (a dashboard retrying after
    a lost response) returns the message stored the first time and changes nothing,
    even if the operator has since let the chat go.

    Raises:
        ValidationError: bad text, or a client message id that is not 1 to 64 letters,
            digits, ``_`` or ``-``.
        ConflictError: the chat has a different message with that client message id.
        PermissionDeniedError: the operator does not hold the chat.
        IllegalTransitionError: the chat is not with an operator.
        NotFoundError: unknown session.
    """
    text = clean_text(text)
    client_id = check_client_message_id(client_message_id)

    async def work(uow: UnitOfWork) -> tuple[Message, bool]:
        operator = await active_operator(uow, operator_id)
        session = await uow.sessions.get(session_id, for_update=True, history=False)
        if client_id is not None:
            earlier = await find_retried(
                uow,
                session_id,
                client_id,
                sender=Sender.OPERATOR,
                text=text,
                operator_id=operator_id,
            )
            if earlier is not None:
                return earlier, False
        now = services.clock.now()
        first = session.operator_replied_at is None
        session.operator_writes(operator_id, now)
        response_ms = None
        if first and session.assigned_at is not None:
            response_ms = round((now - session.assigned_at).total_seconds() * 1000)
        message = await add_message(
            uow,
            services,
            session,
            sender=Sender.OPERATOR,
            text=text,
            at=now,
            operator_id=operator_id,
            meta=MessageMeta(operator_name=operator.display_name),
            response_ms=response_ms,
            client_message_id=client_id,
        )
        if response_ms is not None:
            session.record(ev.OperatorFirstResponse(response_ms=response_ms), now, operator_id)
        await write_audit(
            uow, Actor.operator(operator_id), AuditAction.SEND_MESSAGE, now, session_id
        )
        await save_session(uow, session)
        return message, True

    message, new = await transaction(services, work)
    if new:
        await publish_all(services, [message_event(message)])
    return message


async def transfer(
    services: Services, *, actor_id: str, session_id: str, to_operator_id: str
) -> Message:
    """Move the chat to another operator (the holder, or an admin, may do it).

    Raises:
        ValidationError: the target is disabled or already holds the chat.
        NotFoundError: unknown session or target operator.
        PermissionDeniedError: the actor may not transfer this chat.
    """

    async def work(uow: UnitOfWork) -> Message:
        actor = await active_operator(uow, actor_id)
        session = await uow.sessions.get(session_id, for_update=True)
        ensure_may_act(actor, session, "transfer this chat")
        target = await uow.operators.get(to_operator_id)
        if target.disabled:
            raise ValidationError(field="toOperatorId", reason="that operator is disabled")
        now = services.clock.now()
        previous = session.transfer(actor=Actor.operator(actor_id), to_operator=target.id, at=now)
        target.last_assigned_at = now
        await uow.operators.update(target)
        message = await system_message(
            uow,
            services,
            session,
            "transferred",
            at=now,
            operator_name=target.display_name,
            name=target.display_name,
        )
        await write_audit(
            uow,
            Actor.operator(actor_id),
            AuditAction.TRANSFER,
            now,
            session_id,
            from_operator=previous,
            to_operator=target.id,
        )
        await save_session(uow, session)
        return message

    message = await transaction(services, work)
    await publish_all(
        services,
        [
            message_event(message),
            RealtimeEvent(
                channel=OPERATORS_CHANNEL, kind="transfer", data={"sessionId": session_id}
            ),
        ],
    )
    return message


async def hand_back(services: Services, *, actor_id: str, session_id: str) -> Message:
    """Return the chat to the assistant; the operator's capacity frees up.

    Raises:
        PermissionDeniedError: the actor may not hand back this chat.
        IllegalTransitionError: the chat is not with an operator.
    """

    async def work(uow: UnitOfWork) -> Message:
        actor = await active_operator(uow, actor_id)
        session = await uow.sessions.get(session_id, for_update=True)
        ensure_may_act(actor, session, "hand back this chat")
        now = services.clock.now()
        session.hand_back(actor=Actor.operator(actor_id), at=now)
        message = await system_message(uow, services, session, "handed_back", at=now)
        await write_audit(uow, Actor.operator(actor_id), AuditAction.HAND_BACK, now, session_id)
        await save_session(uow, session)
        return message

    message = await transaction(services, work)
    await _after_release(services, message)
    return message


async def close_chat(
    services: Services,
    *,
    actor_id: str,
    session_id: str,
    status: SessionStatus,
    note: str | None = None,
) -> Message:
    """Close the chat as RESOLVED, NOT_RESOLVED or CANCELLED, with an optional internal note.

    Raises:
        ValidationError: not a closing status, or a bad note.
        PermissionDeniedError: the actor may not close this chat.
        IllegalTransitionError: the chat is not with an operator.
    """
    if status not in _CLOSING:
        raise ValidationError(field="status", reason="must be RESOLVED, NOT_RESOLVED or CANCELLED")
    clean_note = clean_text(note, field="notes") if note and note.strip() else None

    async def work(uow: UnitOfWork) -> Message:
        actor = await active_operator(uow, actor_id)
        session = await uow.sessions.get(session_id, for_update=True)
        ensure_may_act(actor, session, "close this chat")
        if clean_note:
            await store_note(uow, services, session_id, actor_id, clean_note)
        return await close_session(
            uow,
            services,
            session,
            operator_id=actor_id,
            status=status,
            reason=clean_note or "closed by operator",
        )

    message = await transaction(services, work)
    await _after_release(services, message)
    return message


async def update_status(
    services: Services,
    *,
    actor_id: str,
    session_id: str,
    status: SessionStatus,
    note: str | None = None,
) -> Message:
    """v2.7's update-status: a closing status closes the chat, ACTIVE hands it back.

    Raises:
        ValidationError: any other target status.
    """
    if status is SessionStatus.ACTIVE:
        return await hand_back(services, actor_id=actor_id, session_id=session_id)
    return await close_chat(
        services, actor_id=actor_id, session_id=session_id, status=status, note=note
    )


async def _after_release(services: Services, message: Message) -> None:
    await publish_all(
        services,
        [
            message_event(message),
            RealtimeEvent(
                channel=OPERATORS_CHANNEL, kind="status", data={"sessionId": message.session_id}
            ),
        ],
    )
    if services.policies.auto_assign:
        await assign_waiting(services)


async def add_note(
    services: Services, *, operator_id: str, session_id: str, text: str
) -> InternalNote:
    """Write an internal note on a chat; visitors never see notes.

    Raises:
        ValidationError: bad text.
        NotFoundError: unknown session.
    """
    text = clean_text(text, field="content")

    async def work(uow: UnitOfWork) -> InternalNote:
        await active_operator(uow, operator_id)
        await uow.sessions.get(session_id)
        note = await store_note(uow, services, session_id, operator_id, text)
        await write_audit(
            uow, Actor.operator(operator_id), AuditAction.ADD_NOTE, note.at, session_id
        )
        return note

    note = await transaction(services, work)
    await publish_all(
        services,
        [RealtimeEvent(channel=OPERATORS_CHANNEL, kind="note", data={"sessionId": session_id})],
    )
    return note


HISTORY_AUDIT_WINDOW = timedelta(minutes=10)


async def history(services: Services, *, operator_id: str | None, session_id: str) -> History:
    """Messages, notes, operators involved and state changes of a chat; the view is audited.

    One ``view_history`` line per reader and chat every `HISTORY_AUDIT_WINDOW`: the
    dashboard re-reads an open chat every few seconds, and a line per read would drown
    the trail. ``operator_id`` None is the command line, audited as ``system``.

    Raises:
        AuthenticationError: unknown or disabled operator.
        NotFoundError: unknown session.
    """

    async def work(uow: UnitOfWork) -> History:
        if operator_id is not None:
            await active_operator(uow, operator_id)
        session = await uow.sessions.get(session_id)
        messages = await uow.messages.list(session_id)
        notes = await uow.notes.list(session_id)
        involved = {m.operator_id for m in messages if m.operator_id} | {
            n.operator_id for n in notes
        }
        if session.operator_id:
            involved.add(session.operator_id)
        loads = await uow.sessions.loads()
        operators = [
            o.view(loads.get(o.id, 0)) for o in await uow.operators.list() if o.id in involved
        ]
        actor = SYSTEM if operator_id is None else Actor.operator(operator_id)
        now = services.clock.now()
        recent = await uow.audit.list(
            since=now - HISTORY_AUDIT_WINDOW, actor=str(actor), subject=session_id
        )
        if not any(entry.action is AuditAction.VIEW_HISTORY for entry in recent):
            await write_audit(uow, actor, AuditAction.VIEW_HISTORY, now, session_id)
        return History(
            session=session,
            messages=messages,
            notes=notes,
            operators=operators,
            changes=tuple(session.history),
        )

    return await transaction(services, work)
