"""Tickets: from a chat, from the widget when nobody is online, or by an operator."""

from __future__ import annotations

from collections.abc import Sequence

from lucine_core import events as ev
from lucine_core.actors import SYSTEM, Actor
from lucine_core.enums import (
    AuditAction,
    Language,
    SessionStatus,
    TicketPriority,
    TicketSource,
    TicketStatus,
)
from lucine_core.errors import ValidationError
from lucine_core.messages import Message
from lucine_core.phrases import say
from lucine_core.ports import Notification, RealtimeEvent, UnitOfWork
from lucine_core.services.common import (
    OPERATORS_CHANNEL,
    active_operator,
    close_session,
    ensure_may_act,
    message_event,
    save_session,
    store_note,
    system_message,
    write_audit,
)
from lucine_core.services.context import Services, publish_all, transaction
from lucine_core.services.handoff import assign_waiting, notify_safely
from lucine_core.session import ChatSession
from lucine_core.sla import SlaCheck, check, reprioritised_due
from lucine_core.text import clean_text
from lucine_core.tickets import Contact, Ticket, TranscriptLine

__all__ = [
    "TRANSCRIPT_LENGTH",
    "create_ticket",
    "create_ticket_from_chat",
    "create_ticket_from_widget",
    "get_ticket",
    "list_tickets",
    "ticket_sla",
    "update_ticket",
]

TRANSCRIPT_LENGTH = 5
_SUBJECT_MAX = 200
_DESCRIPTION_MAX = 5000


def _subject(text: str) -> str:
    return clean_text(text, field="subject", max_length=_SUBJECT_MAX)


def _description(text: str) -> str:
    return clean_text(text, field="description", max_length=_DESCRIPTION_MAX)


async def _transcript(uow: UnitOfWork, session_id: str) -> tuple[TranscriptLine, ...]:
    return tuple(
        TranscriptLine(sender=m.sender, text=m.text, at=m.at)
        for m in await uow.messages.last(session_id, TRANSCRIPT_LENGTH)
    )


def _new_ticket(
    services: Services,
    *,
    subject: str,
    description: str,
    priority: TicketPriority,
    source: TicketSource,
    contact: Contact,
    session: ChatSession | None,
    operator_id: str | None,
    transcript: tuple[TranscriptLine, ...] = (),
) -> Ticket:
    now = services.clock.now()
    ticket = Ticket(
        id=services.ids.new_id()[:12].upper(),
        subject=subject,
        description=description,
        priority=priority,
        status=TicketStatus.OPEN,
        source=source,
        contact=contact,
        created_at=now,
        updated_at=now,
        due_at=now + services.policies.sla.ticket_target(priority),
        session_id=session.id if session else None,
        operator_id=operator_id,
        transcript=transcript,
    )
    ticket.pending_events.append(
        ev.AnalyticsEvent(
            payload=ev.TicketCreated(
                ticket_id=ticket.id,
                source=source.value,
                priority=priority.value,
                due_at=ticket.due_at,
            ),
            at=now,
            session_id=ticket.session_id,
            operator_id=operator_id,
        )
    )
    return ticket


async def _after_create(services: Services, ticket: Ticket) -> None:
    await publish_all(
        services,
        [RealtimeEvent(channel=OPERATORS_CHANNEL, kind="ticket", data={"ticketId": ticket.id})],
    )
    await notify_safely(
        services,
        Notification(
            kind="ticket_created",
            subject=f"New {ticket.priority.value} ticket {ticket.id}: {ticket.subject}",
            body=ticket.description,
            data={
                "ticketId": ticket.id,
                "priority": ticket.priority.value,
                "source": ticket.source.value,
            },
        ),
    )


async def create_ticket_from_chat(
    services: Services,
    *,
    operator_id: str,
    session_id: str,
    subject: str,
    description: str,
    priority: TicketPriority = TicketPriority.MEDIUM,
) -> Ticket:
    """Turn a held chat into a ticket: last 5 messages attached, a note added, chat RESOLVED.

    Raises:
        ValidationError: bad subject or description.
        PermissionDeniedError: the operator does not hold the chat.
        IllegalTransitionError: the chat is not with an operator.
    """
    clean_subject, clean_description = _subject(subject), _description(description)

    async def work(uow: UnitOfWork) -> tuple[Ticket, Message]:
        operator = await active_operator(uow, operator_id)
        session = await uow.sessions.get(session_id, for_update=True)
        ensure_may_act(operator, session, "create a ticket from this chat")
        known = await uow.tickets.list(session_id=session_id, limit=1)
        contact = known[0].contact if known else Contact()
        ticket = _new_ticket(
            services,
            subject=clean_subject,
            description=clean_description,
            priority=priority,
            source=TicketSource.CHAT,
            contact=contact,
            session=session,
            operator_id=operator_id,
            transcript=await _transcript(uow, session_id),
        )
        now = services.clock.now()
        ticket.pending_events.append(
            ev.AnalyticsEvent(
                payload=ev.TicketFromChat(
                    ticket_id=ticket.id,
                    chat_duration_seconds=(now - session.created_at).total_seconds(),
                    messages_attached=len(ticket.transcript),
                ),
                at=now,
                session_id=session_id,
                operator_id=operator_id,
            )
        )
        await uow.tickets.add(ticket)
        await uow.events.add(ticket.take_events())
        await store_note(
            uow, services, session_id, operator_id, f"Ticket {ticket.id} created: {clean_subject}"
        )
        await write_audit(
            uow,
            Actor.operator(operator_id),
            AuditAction.CREATE_TICKET,
            now,
            ticket.id,
            session=session_id,
        )
        closed = await close_session(
            uow,
            services,
            session,
            operator_id=operator_id,
            status=SessionStatus.RESOLVED,
            reason=f"ticket {ticket.id}",
        )
        return ticket, closed

    ticket, closed = await transaction(services, work)
    await publish_all(services, [message_event(closed)])
    await _after_create(services, ticket)
    if services.policies.auto_assign:
        await assign_waiting(services)
    return ticket


async def create_ticket_from_widget(
    services: Services,
    *,
    session_id: str,
    message: str,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    confirm: bool = False,
) -> Ticket:
    """A visitor leaves contact details when nobody is online; the chat gets a confirmation.

    With ``confirm`` (the visitor's consent) a copy of the request is also sent to their
    e-mail address, or else their phone, as a ``ticket_confirmation`` notification.

    Raises:
        ValidationError: no e-mail or phone, malformed ones, or a bad message.
        NotFoundError: unknown session.
    """
    contact = Contact.parse(name=name, email=email, phone=phone)
    description = _description(message)

    async def work(uow: UnitOfWork) -> tuple[Ticket, Message, Language]:
        session = await uow.sessions.get(session_id, for_update=True)
        now = services.clock.now()
        ticket = _new_ticket(
            services,
            subject=description.splitlines()[0][:80],
            description=description,
            priority=TicketPriority.MEDIUM,
            source=TicketSource.WIDGET,
            contact=contact,
            session=session,
            operator_id=None,
            transcript=await _transcript(uow, session_id),
        )
        await uow.tickets.add(ticket)
        await uow.events.add(ticket.take_events())
        await uow.queue.cancel(session_id, now, "ticket left instead")
        shown = contact.email or contact.phone or ""
        confirmation = await system_message(
            uow,
            services,
            session,
            "ticket_created",
            at=now,
            kind="ticket_confirmation",
            ticket=ticket.id,
            contact=shown,
        )
        await save_session(uow, session)
        return ticket, confirmation, session.language

    ticket, confirmation, language = await transaction(services, work)
    await publish_all(services, [message_event(confirmation)])
    await _after_create(services, ticket)
    recipient = contact.email or contact.phone
    if confirm and recipient:
        await notify_safely(
            services,
            Notification(
                kind="ticket_confirmation",
                subject=say("ticket_confirmation_subject", language, ticket=ticket.id),
                body=say(
                    "ticket_confirmation_body", language, ticket=ticket.id, message=description
                ),
                data={"ticketId": ticket.id},
                recipient=recipient,
            ),
        )
    return ticket


async def create_ticket(
    services: Services,
    *,
    operator_id: str,
    subject: str,
    description: str,
    priority: TicketPriority,
    contact: Contact,
) -> Ticket:
    """An operator opens a ticket by hand (a phone call, an e-mail)."""
    clean_subject, clean_description = _subject(subject), _description(description)

    async def work(uow: UnitOfWork) -> Ticket:
        await active_operator(uow, operator_id)
        ticket = _new_ticket(
            services,
            subject=clean_subject,
            description=clean_description,
            priority=priority,
            source=TicketSource.OPERATOR,
            contact=contact,
            session=None,
            operator_id=operator_id,
        )
        await uow.tickets.add(ticket)
        await uow.events.add(ticket.take_events())
        await write_audit(
            uow,
            Actor.operator(operator_id),
            AuditAction.CREATE_TICKET,
            ticket.created_at,
            ticket.id,
        )
        return ticket

    ticket = await transaction(services, work)
    await _after_create(services, ticket)
    return ticket


async def list_tickets(
    services: Services,
    *,
    statuses: Sequence[TicketStatus] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Ticket]:
    """Tickets, newest first."""
    if not 1 <= limit <= 500 or offset < 0:  # noqa: PLR2004 - a page size, not a rule
        raise ValidationError(field="limit", reason="limit must be 1-500 and offset not negative")
    async with services.uow() as uow:
        return await uow.tickets.list(statuses=statuses, limit=limit, offset=offset)


async def get_ticket(services: Services, *, ticket_id: str) -> Ticket:
    """One ticket.

    Raises:
        NotFoundError: unknown ticket.
    """
    async with services.uow() as uow:
        return await uow.tickets.get(ticket_id)


def ticket_sla(services: Services, ticket: Ticket) -> SlaCheck:
    """The ticket's resolution clock measured now: OK, WARNING, BREACHED, MET or MISSED."""
    return check(
        started_at=ticket.created_at,
        target=ticket.due_at - ticket.created_at,
        now=services.clock.now(),
        # A ticket closed without being resolved stops its clock when it was closed.
        done_at=ticket.resolved_at
        or (ticket.updated_at if ticket.status is TicketStatus.CLOSED else None),
        warning_ratio=services.policies.sla.warning_ratio,
    )


async def update_ticket(
    services: Services,
    *,
    operator_id: str | None,
    ticket_id: str,
    status: TicketStatus | None = None,
    priority: TicketPriority | None = None,
    assign_to: str | None = None,
) -> Ticket:
    """Change a ticket's status, priority or owner.

    A new priority restarts the resolution clock from now, but a due time already
    promised never moves earlier (sla.reprioritised_due): priority orders the work,
    the promise stands. ``operator_id`` None is the local command line, audited as
    ``system``.

    Raises:
        ConflictError: a status move that is not allowed (out of CLOSED).
        NotFoundError: unknown ticket or operator.
    """

    async def work(uow: UnitOfWork) -> Ticket:
        actor = SYSTEM
        if operator_id is not None:
            await active_operator(uow, operator_id)
            actor = Actor.operator(operator_id)
        ticket = await uow.tickets.get(ticket_id)
        now = services.clock.now()
        details: dict[str, str] = {}
        if priority is not None and priority is not ticket.priority:
            ticket.priority = priority
            ticket.due_at = reprioritised_due(
                ticket.due_at, now, services.policies.sla.ticket_target(priority)
            )
            details["priority"] = priority.value
        if assign_to is not None:
            ticket.operator_id = (await uow.operators.get(assign_to)).id
            details["operator"] = assign_to
        if status is not None:
            ticket.move_to(status, now)
            details["status"] = status.value
        ticket.updated_at = now
        await uow.tickets.update(ticket)
        await uow.events.add(ticket.take_events())
        await write_audit(uow, actor, AuditAction.UPDATE_TICKET, now, ticket_id, **details)
        return ticket

    ticket = await transaction(services, work)
    await publish_all(
        services,
        [RealtimeEvent(channel=OPERATORS_CHANNEL, kind="ticket", data={"ticketId": ticket.id})],
    )
    return ticket
