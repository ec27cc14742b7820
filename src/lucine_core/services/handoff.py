"""Handing a chat from the assistant to a human: request, queue, take, auto-assign.

Exactly one operator ever holds a chat: the take runs in one unit of work that claims
the queue entry and updates the session under its version, so of two racing takes
one commits and the other, retried on fresh data, meets a ConflictError.
"""

from __future__ import annotations

import attrs

from lucine_core import events as ev
from lucine_core.actors import SYSTEM, Actor
from lucine_core.enums import AuditAction, QueueStatus, Trigger
from lucine_core.errors import ConflictError, ExternalServiceError, IllegalTransitionError
from lucine_core.messages import Message
from lucine_core.ports import Notification, RealtimeEvent, UnitOfWork
from lucine_core.queue import QueueEntry, pick_operator
from lucine_core.services.common import (
    OPERATORS_CHANNEL,
    active_operator,
    message_event,
    queue_info,
    save_session,
    system_message,
    write_audit,
)
from lucine_core.services.context import Services, publish_all, transaction
from lucine_core.services.views import EscalationOutcome

__all__ = ["assign_waiting", "notify_safely", "request_operator", "take_chat"]


@attrs.frozen
class _Requested:
    outcome: str
    message: Message | None


async def request_operator(
    services: Services, *, session_id: str, trigger: str = "visitor", priority: int = 0
) -> EscalationOutcome:
    """Queue the session for a human, or offer a ticket when nobody is online.

    Asking again while queued or while an operator holds the chat changes nothing.

    Raises:
        NotFoundError: unknown session.
        IllegalTransitionError: the session has ENDED.
    """

    async def work(uow: UnitOfWork) -> _Requested:
        session = await uow.sessions.get(session_id, for_update=True)
        if session.is_held:
            return _Requested("with_operator", None)
        if await uow.queue.waiting_for(session_id) is not None:
            return _Requested("queued", None)
        now = services.clock.now()
        if not session.allows(Trigger.REQUEST_OPERATOR) and session.allows(Trigger.VISITOR_WRITES):
            session.visitor_writes(now)
        session.apply(
            Trigger.REQUEST_OPERATOR, at=now, actor=Actor("visitor"), reason="asked for a human"
        )
        online = [o for o in await uow.operators.list() if o.receives_chats]
        if not online:
            session.record(
                ev.EscalationFailed(reason="no_operator_online", fallback="ticket_form"), now
            )
            message = await system_message(
                uow, services, session, "no_operator", at=now, kind="ticket_offer"
            )
            await save_session(uow, session)
            return _Requested("no_operator", message)
        await uow.queue.add(
            QueueEntry(
                id=services.ids.new_id(), session_id=session_id, requested_at=now, priority=priority
            )
        )
        waiting = await uow.queue.list_waiting()
        position = next(i for i, e in enumerate(waiting, 1) if e.session_id == session_id)
        session.record(
            ev.EscalationRequest(
                trigger=trigger, available_operators=len(online), queue_position=position
            ),
            now,
        )
        message = await system_message(uow, services, session, "queued", at=now, position=position)
        await save_session(uow, session)
        return _Requested("queued", message)

    requested = await transaction(services, work)
    pushes = [
        RealtimeEvent(channel=OPERATORS_CHANNEL, kind="queue", data={"sessionId": session_id})
    ]
    if requested.message is not None:
        pushes.insert(0, message_event(requested.message))
    await publish_all(services, pushes)
    if requested.outcome == "no_operator":
        await notify_safely(
            services,
            Notification(
                kind="no_operator_online",
                subject="A visitor asked for a human and nobody is online",
                body=f"Session {session_id} was offered the ticket form.",
                data={"sessionId": session_id},
            ),
        )
    elif requested.outcome == "queued" and services.policies.auto_assign:
        await assign_waiting(services)
    return await _outcome(services, session_id, requested)


async def _outcome(services: Services, session_id: str, requested: _Requested) -> EscalationOutcome:
    async with services.uow() as uow:
        session = await uow.sessions.get(session_id)
        if session.is_held and session.operator_id:
            operator = await uow.operators.get(session.operator_id)
            outcome = "assigned" if requested.outcome == "queued" else requested.outcome
            return EscalationOutcome(
                outcome=outcome,
                session_id=session_id,
                status=session.status,
                operator_name=operator.display_name,
                message=requested.message,
            )
        return EscalationOutcome(
            outcome=requested.outcome,
            session_id=session_id,
            status=session.status,
            queue=await queue_info(uow, services, session_id),
            ticket_offered=requested.outcome == "no_operator",
            message=requested.message,
        )


async def take_chat(
    services: Services, *, operator_id: str, session_id: str, assignment: str = "manual"
) -> Message:
    """The operator takes the chat; returns the "operator joined" message.

    Raises:
        ConflictError: another operator already holds the chat.
        IllegalTransitionError: the chat is closed or ENDED.
        NotFoundError: unknown session.
        AuthenticationError: unknown or disabled operator.
    """

    async def work(uow: UnitOfWork) -> Message:
        operator = await active_operator(uow, operator_id)
        session = await uow.sessions.get(session_id, for_update=True)
        if session.is_held:
            raise ConflictError(reason="the chat is already taken by an operator")
        now = services.clock.now()
        entry = await uow.queue.claim(session_id, operator_id, now)
        session.take(
            operator_id, now, assignment=assignment, queued_at=entry.requested_at if entry else None
        )
        operator.last_assigned_at = now
        await uow.operators.update(operator)
        message = await system_message(
            uow,
            services,
            session,
            "operator_joined",
            at=now,
            operator_name=operator.display_name,
            name=operator.display_name,
        )
        actor = Actor.operator(operator_id) if assignment == "manual" else SYSTEM
        await write_audit(
            uow,
            actor,
            AuditAction.TAKE_CHAT,
            now,
            session_id,
            operator=operator_id,
            assignment=assignment,
        )
        await save_session(uow, session)
        return message

    message = await transaction(services, work)
    await publish_all(
        services,
        [
            message_event(message),
            RealtimeEvent(
                channel=OPERATORS_CHANNEL,
                kind="taken",
                data={"sessionId": session_id, "operatorId": operator_id},
            ),
        ],
    )
    return message


async def assign_waiting(services: Services) -> list[tuple[str, str]]:
    """Give waiting chats, in queue order, to ONLINE operators under capacity, round-robin.

    Returns:
        The (session id, operator id) pairs assigned.
    """
    assigned: list[tuple[str, str]] = []
    async with services.uow() as uow:
        budget = len(await uow.queue.list_waiting())
    for _ in range(budget):
        async with services.uow() as uow:
            waiting = await uow.queue.list_waiting()
            operator = pick_operator(await uow.operators.list(), await uow.sessions.loads())
        if not waiting or operator is None:
            break
        entry = waiting[0]
        try:
            await take_chat(
                services, operator_id=operator.id, session_id=entry.session_id, assignment="auto"
            )
        except ConflictError:
            continue  # someone took it by hand meanwhile; the next round sees the queue anew
        except IllegalTransitionError:
            await _drop_stale_entry(services, entry)
            continue
        assigned.append((entry.session_id, operator.id))
    return assigned


async def _drop_stale_entry(services: Services, entry: QueueEntry) -> None:
    async def work(uow: UnitOfWork) -> None:
        await uow.queue.cancel(entry.session_id, services.clock.now(), "session no longer open")

    if entry.status is QueueStatus.WAITING:
        await transaction(services, work)


async def notify_safely(services: Services, notification: Notification) -> bool:
    """Send a notification; a failing notifier never fails the caller. Returns success."""
    try:
        await services.notifier.notify(notification)
    except ExternalServiceError:
        return False
    return True
