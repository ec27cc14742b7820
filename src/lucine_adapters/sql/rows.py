"""Rows to domain objects and back; cattrs handles the JSON columns' nested values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import cattrs
from cattrs.preconf.json import make_converter

from lucine_core.audit import AuditEntry
from lucine_core.enums import (
    AuditAction,
    Availability,
    EventType,
    Language,
    QueueStatus,
    Role,
    Sender,
    SessionStatus,
    TicketPriority,
    TicketSource,
    TicketStatus,
)
from lucine_core.escalation import EscalationState
from lucine_core.events import PAYLOAD_TYPES, AnalyticsEvent, Payload
from lucine_core.messages import Message, MessageMeta
from lucine_core.operators import Operator
from lucine_core.queue import QueueEntry
from lucine_core.session import ChatSession, StatusChange
from lucine_core.tickets import Contact, InternalNote, Ticket, TranscriptLine

__all__ = [
    "audit_from_row",
    "audit_to_row",
    "change_from_row",
    "change_to_row",
    "event_from_row",
    "event_to_row",
    "message_from_row",
    "message_to_row",
    "note_from_row",
    "note_to_row",
    "operator_from_row",
    "operator_to_row",
    "queue_from_row",
    "queue_to_row",
    "session_from_row",
    "session_to_row",
    "ticket_from_row",
    "ticket_to_row",
]

_json: cattrs.Converter = make_converter()
_json.register_unstructure_hook(datetime, datetime.isoformat)
_json.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))

Row = Mapping[Any, Any]


def session_to_row(session: ChatSession, *, history_count: int) -> dict[str, Any]:
    """The sessions row (history goes to session_changes)."""
    return {
        "id": session.id,
        "status": session.status.value,
        "language": session.language.value,
        "created_at": session.created_at,
        "last_activity_at": session.last_activity_at,
        "status_changed_at": session.status_changed_at,
        "operator_id": session.operator_id,
        "assigned_at": session.assigned_at,
        "operator_replied_at": session.operator_replied_at,
        "message_count": session.message_count,
        "escalation": _json.unstructure(session.escalation),
        "rating": session.rating,
        "rating_comment": session.rating_comment,
        "sla_alerts": sorted(session.sla_alerts),
        "history_count": history_count,
        "version": session.version,
        "opening_client_message_id": session.opening_client_message_id,
    }


def session_from_row(row: Row, history: list[StatusChange]) -> ChatSession:
    """A session from its row and its history."""
    return ChatSession(
        id=row["id"],
        status=SessionStatus(row["status"]),
        language=Language(row["language"]),
        created_at=row["created_at"],
        last_activity_at=row["last_activity_at"],
        status_changed_at=row["status_changed_at"],
        operator_id=row["operator_id"],
        assigned_at=row["assigned_at"],
        operator_replied_at=row["operator_replied_at"],
        message_count=row["message_count"],
        escalation=_json.structure(row["escalation"], EscalationState),
        rating=row["rating"],
        rating_comment=row["rating_comment"],
        sla_alerts=frozenset(row["sla_alerts"]),
        opening_client_message_id=row["opening_client_message_id"],
        version=row["version"],
        history=history,
    )


def change_to_row(session_id: str, position: int, change: StatusChange) -> dict[str, Any]:
    """One session_changes row."""
    return {
        "session_id": session_id,
        "position": position,
        "from_status": change.from_status.value,
        "to_status": change.to_status.value,
        "at": change.at,
        "actor": change.actor,
        "reason": change.reason,
    }


def change_from_row(row: Row) -> StatusChange:
    """A status change from its row."""
    return StatusChange(
        from_status=SessionStatus(row["from_status"]),
        to_status=SessionStatus(row["to_status"]),
        at=row["at"],
        actor=row["actor"],
        reason=row["reason"],
    )


def message_to_row(message: Message) -> dict[str, Any]:
    """The messages row."""
    return {
        "session_id": message.session_id,
        "seq": message.seq,
        "id": message.id,
        "sender": message.sender.value,
        "text": message.text,
        "at": message.at,
        "operator_id": message.operator_id,
        "meta": _json.unstructure(message.meta),
        "client_message_id": message.client_message_id,
    }


def message_from_row(row: Row) -> Message:
    """A message from its row."""
    return Message(
        id=row["id"],
        session_id=row["session_id"],
        seq=row["seq"],
        sender=Sender(row["sender"]),
        text=row["text"],
        at=row["at"],
        operator_id=row["operator_id"],
        meta=_json.structure(row["meta"], MessageMeta),
        client_message_id=row["client_message_id"],
    )


def operator_to_row(operator: Operator) -> dict[str, Any]:
    """The operators row."""
    return {
        "id": operator.id,
        "username": operator.username,
        "display_name": operator.display_name,
        "password_hash": operator.password_hash,
        "role": operator.role.value,
        "availability": operator.availability.value,
        "capacity": operator.capacity,
        "disabled": int(operator.disabled),
        "created_at": operator.created_at,
        "last_assigned_at": operator.last_assigned_at,
        "token_version": operator.token_version,
    }


def operator_from_row(row: Row) -> Operator:
    """An operator from their row."""
    return Operator(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        availability=Availability(row["availability"]),
        capacity=row["capacity"],
        disabled=bool(row["disabled"]),
        created_at=row["created_at"],
        last_assigned_at=row["last_assigned_at"],
        token_version=row["token_version"],
    )


def queue_to_row(entry: QueueEntry) -> dict[str, Any]:
    """The queue_entries row."""
    return {
        "id": entry.id,
        "session_id": entry.session_id,
        "requested_at": entry.requested_at,
        "priority": entry.priority,
        "status": entry.status.value,
        "operator_id": entry.operator_id,
        "resolved_at": entry.resolved_at,
        "reason": entry.reason,
    }


def queue_from_row(row: Row) -> QueueEntry:
    """A queue entry from its row."""
    return QueueEntry(
        id=row["id"],
        session_id=row["session_id"],
        requested_at=row["requested_at"],
        priority=row["priority"],
        status=QueueStatus(row["status"]),
        operator_id=row["operator_id"],
        resolved_at=row["resolved_at"],
        reason=row["reason"],
    )


def ticket_to_row(ticket: Ticket) -> dict[str, Any]:
    """The tickets row."""
    return {
        "id": ticket.id,
        "subject": ticket.subject,
        "description": ticket.description,
        "priority": ticket.priority.value,
        "status": ticket.status.value,
        "source": ticket.source.value,
        "contact_name": ticket.contact.name,
        "contact_email": ticket.contact.email,
        "contact_phone": ticket.contact.phone,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "due_at": ticket.due_at,
        "session_id": ticket.session_id,
        "operator_id": ticket.operator_id,
        "resolved_at": ticket.resolved_at,
        "transcript": _json.unstructure(list(ticket.transcript)),
        "sla_alerts": sorted(ticket.sla_alerts),
    }


def ticket_from_row(row: Row) -> Ticket:
    """A ticket from its row."""
    return Ticket(
        id=row["id"],
        subject=row["subject"],
        description=row["description"],
        priority=TicketPriority(row["priority"]),
        status=TicketStatus(row["status"]),
        source=TicketSource(row["source"]),
        contact=Contact(
            name=row["contact_name"], email=row["contact_email"], phone=row["contact_phone"]
        ),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        due_at=row["due_at"],
        session_id=row["session_id"],
        operator_id=row["operator_id"],
        resolved_at=row["resolved_at"],
        transcript=tuple(_json.structure(row["transcript"], list[TranscriptLine])),
        sla_alerts=frozenset(row["sla_alerts"]),
    )


def note_to_row(note: InternalNote) -> dict[str, Any]:
    """The notes row (its position is assigned by the database)."""
    return {
        "id": note.id,
        "session_id": note.session_id,
        "operator_id": note.operator_id,
        "text": note.text,
        "at": note.at,
    }


def note_from_row(row: Row) -> InternalNote:
    """A note from its row."""
    return InternalNote(
        id=row["id"],
        session_id=row["session_id"],
        operator_id=row["operator_id"],
        text=row["text"],
        at=row["at"],
    )


def event_to_row(event: AnalyticsEvent) -> dict[str, Any]:
    """The events row (its id is assigned by the database)."""
    return {
        "type": event.type.value,
        "at": event.at,
        "session_id": event.session_id,
        "operator_id": event.operator_id,
        "payload": _json.unstructure(event.payload),
    }


def event_from_row(row: Row) -> AnalyticsEvent:
    """An event from its row, its payload typed by the event type."""
    payload: Payload = _json.structure(row["payload"], PAYLOAD_TYPES[EventType(row["type"])])
    return AnalyticsEvent(
        payload=payload,
        at=row["at"],
        session_id=row["session_id"],
        operator_id=row["operator_id"],
        id=row["id"],
    )


def audit_to_row(entry: AuditEntry) -> dict[str, Any]:
    """The audit row (its id is assigned by the database)."""
    return {
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action.value,
        "subject": entry.subject,
        "details": dict(entry.details),
    }


def audit_from_row(row: Row) -> AuditEntry:
    """An audit entry from its row."""
    return AuditEntry(
        at=row["at"],
        actor=row["actor"],
        action=AuditAction(row["action"]),
        subject=row["subject"],
        details=row["details"],
        id=row["id"],
    )
