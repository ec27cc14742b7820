"""Valid domain objects for the contract suites, built through the domain's own methods.

Times are aware UTC datetimes counted from ``T0``; the "rich" builders set every
optional field to a value other than its default, so a round trip that drops or
truncates a field fails.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from lucine_core import events as ev
from lucine_core.actors import Actor
from lucine_core.audit import AuditEntry
from lucine_core.enums import (
    AuditAction,
    Availability,
    Language,
    Role,
    Sender,
    SessionStatus,
    TicketPriority,
    TicketSource,
    TicketStatus,
)
from lucine_core.escalation import EscalationState
from lucine_core.events import AnalyticsEvent
from lucine_core.messages import Message, MessageMeta, SmartActionView
from lucine_core.operators import Operator
from lucine_core.queue import QueueEntry
from lucine_core.session import ChatSession
from lucine_core.tickets import Contact, InternalNote, Ticket, TranscriptLine

__all__ = [
    "T0",
    "at",
    "audit_entry",
    "event",
    "message",
    "note",
    "operator",
    "queue_entry",
    "rich_meta",
    "rich_operator",
    "rich_session",
    "rich_ticket",
    "sample_payload",
    "session",
    "session_in",
    "ticket",
]

T0 = datetime(2026, 12, 8, 18, 0, tzinfo=UTC)
"""The moment every builder starts from."""

FAKE_HASH = "$2b$04$abcdefghijklmnopqrstuu5G3h2NVH7Mf1Vz0dE3v0c2XlS7b9aKe"
"""A string shaped like a bcrypt hash; stores keep it without checking it."""


def at(minutes: float) -> datetime:
    """``T0`` plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def session(
    session_id: str = "s-1", *, started: datetime = T0, language: Language = Language.IT
) -> ChatSession:
    """A new ACTIVE session, as a visitor's first message opens it."""
    return ChatSession.start(session_id=session_id, language=language, at=started)


def session_in(
    status: SessionStatus,
    session_id: str = "s-1",
    *,
    operator_id: str = "op-1",
    started: datetime = T0,
    last_activity: datetime | None = None,
) -> ChatSession:
    """A session moved into ``status`` along legal transitions, all at ``started``.

    Sessions that pass through an operator are taken by ``operator_id``. The last
    activity is set to ``last_activity`` when given.
    """
    chat = session(session_id, started=started)
    operator_actor = Actor.operator(operator_id)
    if status in (
        SessionStatus.WITH_OPERATOR,
        SessionStatus.WAITING_CLIENT,
        SessionStatus.RESOLVED,
        SessionStatus.NOT_RESOLVED,
        SessionStatus.CANCELLED,
    ):
        chat.take(operator_id, started, assignment="manual", queued_at=None)
    if status in (SessionStatus.IDLE, SessionStatus.WAITING_CLIENT):
        chat.mark_inactive(started, inactivity_minutes=5)
    if status in (SessionStatus.RESOLVED, SessionStatus.NOT_RESOLVED, SessionStatus.CANCELLED):
        chat.close(status, actor=operator_actor, at=started, reason="done")
    if status is SessionStatus.ENDED:
        chat.end(started)
    assert chat.status is status
    if last_activity is not None:
        chat.last_activity_at = last_activity
    return chat


def rich_session(session_id: str = "s-rich") -> ChatSession:
    """A session whose every stored field differs from its default, with a long history."""
    chat = session(session_id, started=at(0), language=Language.DE)
    chat.add_message(message_id="m-1", sender=Sender.USER, text="Hallo", at=at(1))
    chat.take("op-7", at(2), assignment="manual", queued_at=at(1))
    chat.operator_writes("op-7", at(3))
    chat.mark_inactive(at(4), inactivity_minutes=1)
    chat.close(SessionStatus.RESOLVED, actor=Actor.operator("op-7"), at=at(5), reason="fixed")
    chat.rate(4, "Sehr gut, danke", at(6))
    chat.escalation = EscalationState(consecutive_failures=2, suppress_next_offer=True)
    chat.sla_alerts = frozenset({"first_response:warning", "queue_wait:breached"})
    chat.operator_replied_at = at(3) + timedelta(microseconds=123_456)
    chat.opening_client_message_id = f"{session_id}-opening-client-message"
    return chat


def message(
    session_id: str,
    seq: int,
    *,
    sender: Sender = Sender.USER,
    sent: datetime | None = None,
    meta: MessageMeta | None = None,
    client_message_id: str | None = None,
) -> Message:
    """The ``seq``-th message of a session, with a text naming both."""
    return Message(
        id=f"{session_id}-m{seq}",
        session_id=session_id,
        seq=seq,
        sender=sender,
        text=f"message {seq} of {session_id}",
        at=sent or at(seq),
        operator_id="op-1" if sender is Sender.OPERATOR else None,
        meta=meta or MessageMeta(),
        client_message_id=client_message_id,
    )


def rich_meta() -> MessageMeta:
    """Message details with every field set."""
    return MessageMeta(
        operator_name="Giulia",
        smart_actions=(
            SmartActionView(text="SÌ, CHIAMA OPERATORE", action="request_operator"),
            SmartActionView(text="NO, CONTINUA CON AI", action="continue_ai"),
        ),
        sources=("orari", "spedizioni"),
        confidence=0.8125,
        escalation_reasons=("low_confidence", "repeated_failure"),
        timeout_reason="visitor_inactive",
        kind="ticket_offer",
        reply_to=3,
    )


def operator(
    operator_id: str = "op-1",
    username: str | None = None,
    *,
    created: datetime = T0,
) -> Operator:
    """An operator account (username defaults to the id without dashes)."""
    return Operator(
        id=operator_id,
        username=username or operator_id.replace("-", ""),
        display_name=f"Operator {operator_id}",
        password_hash=FAKE_HASH,
        created_at=created,
    )


def rich_operator(operator_id: str = "op-rich") -> Operator:
    """An operator whose every field differs from its default."""
    return Operator(
        id=operator_id,
        username="giulia.rossi",
        display_name="Giulia Rossi",
        password_hash=FAKE_HASH,
        role=Role.ADMIN,
        availability=Availability.ONLINE,
        capacity=7,
        disabled=True,
        created_at=at(0),
        last_assigned_at=at(30) + timedelta(microseconds=654_321),
        token_version=3,
    )


def queue_entry(
    entry_id: str, session_id: str, *, requested: datetime = T0, priority: int = 0
) -> QueueEntry:
    """A WAITING request for a human."""
    return QueueEntry(id=entry_id, session_id=session_id, requested_at=requested, priority=priority)


def ticket(
    ticket_id: str = "t-1",
    *,
    created: datetime = T0,
    status: TicketStatus = TicketStatus.OPEN,
    session_id: str | None = None,
    email: str = "visitor@example.com",
) -> Ticket:
    """An OPEN MEDIUM ticket from the widget, due four hours after it was created."""
    return Ticket(
        id=ticket_id,
        subject=f"Subject of {ticket_id}",
        description="Where is my order?",
        priority=TicketPriority.MEDIUM,
        status=status,
        source=TicketSource.WIDGET,
        contact=Contact(name=None, email=email, phone=None),
        created_at=created,
        updated_at=created,
        due_at=created + timedelta(hours=4),
        session_id=session_id,
    )


def rich_ticket(ticket_id: str = "t-rich") -> Ticket:
    """A ticket whose every stored field differs from its default."""
    return Ticket(
        id=ticket_id,
        subject="Ordine non arrivato",
        description="Ho ordinato il 1° dicembre e non è ancora arrivato.",
        priority=TicketPriority.URGENT,
        status=TicketStatus.RESOLVED,
        source=TicketSource.CHAT,
        contact=Contact(name="Mario Rossi", email="mario@example.com", phone="+393331234567"),
        created_at=at(0),
        updated_at=at(50),
        due_at=at(60),
        session_id="s-rich",
        operator_id="op-7",
        resolved_at=at(50) + timedelta(microseconds=1),
        transcript=(
            TranscriptLine(sender=Sender.USER, text="Dov'è il mio ordine?", at=at(1)),
            TranscriptLine(sender=Sender.OPERATOR, text="Controllo subito.", at=at(2)),
        ),
        sla_alerts=frozenset({"ticket_resolution:warning"}),
    )


def note(
    note_id: str, session_id: str, *, written: datetime = T0, operator_id: str = "op-1"
) -> InternalNote:
    """An operator's internal note on a session."""
    return InternalNote(
        id=note_id,
        session_id=session_id,
        operator_id=operator_id,
        text=f"note {note_id}",
        at=written,
    )


def event(
    payload: ev.Payload | None = None,
    *,
    happened: datetime = T0,
    session_id: str | None = "s-1",
    operator_id: str | None = None,
) -> AnalyticsEvent:
    """An analytics event (a SessionStarted unless ``payload`` is given)."""
    return AnalyticsEvent(
        payload=payload or ev.SessionStarted(language="it"),
        at=happened,
        session_id=session_id,
        operator_id=operator_id,
    )


_SAMPLES: Mapping[object, Callable[[str, int], object]] = {
    str: lambda name, index: f"{name}-{index}",
    bool: lambda _name, _index: True,
    int: lambda _name, index: 40 + index,
    float: lambda _name, index: index + 0.375,
    datetime: lambda _name, index: at(90 + index) + timedelta(microseconds=250_000),
    tuple[str, ...]: lambda name, _index: (f"{name}-a", f"{name}-b"),
}
"""A value per field type; each field gets its own, so swapped columns fail a round trip."""


def _sample(annotation: object, name: str, index: int) -> object:
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) and type(None) in args:
        (annotation,) = (a for a in args if a is not type(None))
    try:
        make = _SAMPLES[annotation]
    except KeyError:
        raise TypeError(f"no sample for {annotation!r}: teach builders._SAMPLES") from None
    return make(name, index)


def sample_payload(cls: type[ev.Payload]) -> ev.Payload:
    """An instance of a payload class with a distinct, non-default value in every field."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {
        f.name: _sample(hints[f.name], f.name, index) for index, f in enumerate(attrs.fields(cls))
    }
    return cls(**values)


def audit_entry(
    *,
    when: datetime = T0,
    actor: str = "operator:op-1",
    action: AuditAction = AuditAction.TAKE_CHAT,
    subject: str = "s-1",
    details: Mapping[str, str] | None = None,
) -> AuditEntry:
    """One line of the audit trail."""
    return AuditEntry(at=when, actor=actor, action=action, subject=subject, details=details or {})
