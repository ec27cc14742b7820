"""Closed vocabularies of the domain, as string enums so they serialise as their names."""

from __future__ import annotations

import enum

__all__ = [
    "AuditAction",
    "Availability",
    "EscalationReason",
    "EventType",
    "Language",
    "QueueStatus",
    "ResponderStatus",
    "Role",
    "Sender",
    "SessionStatus",
    "TicketPriority",
    "TicketSource",
    "TicketStatus",
    "Trigger",
]


class SessionStatus(enum.StrEnum):
    """The eight states of a chat session (DESIGN.md, "Chat session")."""

    ACTIVE = "ACTIVE"
    IDLE = "IDLE"
    WITH_OPERATOR = "WITH_OPERATOR"
    WAITING_CLIENT = "WAITING_CLIENT"
    RESOLVED = "RESOLVED"
    NOT_RESOLVED = "NOT_RESOLVED"
    CANCELLED = "CANCELLED"
    ENDED = "ENDED"


class Trigger(enum.StrEnum):
    """What can happen to a session; the transition table maps (state, trigger) to a state."""

    VISITOR_WRITES = "visitor_writes"
    VISITOR_INACTIVE = "visitor_inactive"
    ASSISTANT_ANSWERS = "assistant_answers"
    REQUEST_OPERATOR = "request_operator"
    OPERATOR_TAKES = "operator_takes"
    OPERATOR_WRITES = "operator_writes"
    TRANSFER = "transfer"
    HAND_BACK = "hand_back"
    CLOSE_RESOLVED = "close_resolved"
    CLOSE_NOT_RESOLVED = "close_not_resolved"
    CLOSE_CANCELLED = "close_cancelled"
    RATE = "rate"
    NO_ACTIVITY = "no_activity"


class Sender(enum.StrEnum):
    """Who wrote a message."""

    USER = "USER"
    BOT = "BOT"
    OPERATOR = "OPERATOR"
    SYSTEM = "SYSTEM"


class Language(enum.StrEnum):
    """Languages visitors are answered in; Italian first."""

    IT = "it"
    EN = "en"
    DE = "de"


class Availability(enum.StrEnum):
    """An operator's availability; only ONLINE operators receive chats."""

    ONLINE = "ONLINE"
    BUSY = "BUSY"
    AWAY = "AWAY"
    OFFLINE = "OFFLINE"


class Role(enum.StrEnum):
    """An operator's role; admins also manage operators and read the audit trail."""

    OPERATOR = "operator"
    ADMIN = "admin"


class QueueStatus(enum.StrEnum):
    """The state of a request for a human."""

    WAITING = "WAITING"
    ASSIGNED = "ASSIGNED"
    CANCELLED = "CANCELLED"


class TicketStatus(enum.StrEnum):
    """A ticket's life cycle."""

    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING_CUSTOMER = "WAITING_CUSTOMER"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


class TicketPriority(enum.StrEnum):
    """Ticket priority; each has its own resolution target in the SLA policy."""

    URGENT = "URGENT"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class TicketSource(enum.StrEnum):
    """Where a ticket came from."""

    CHAT = "CHAT"
    WIDGET = "WIDGET"
    OPERATOR = "OPERATOR"


class EscalationReason(enum.StrEnum):
    """Why the assistant offered a human; recorded on the reply and in analytics."""

    VISITOR_ASKED = "visitor_asked"
    VISITOR_UPSET = "visitor_upset"
    REPLY_UNSURE = "reply_unsure"
    LOW_CONFIDENCE = "low_confidence"
    REPEATED_FAILURE = "repeated_failure"
    RESPONDER_FAILED = "responder_failed"


class EventType(enum.StrEnum):
    """Every analytics event type of DESIGN.md; each has a typed payload in analytics.py."""

    SESSION_STARTED = "session_started"
    CHAT_MESSAGE = "chat_message"
    KB_ANSWER = "kb_answer"
    SMART_ACTION_CLICKED = "smart_action_clicked"
    ESCALATION_REQUEST = "escalation_request"
    ESCALATION_FAILED = "escalation_failed"
    OPERATOR_CONNECTED = "operator_connected"
    CHAT_TRANSFERRED = "chat_transferred"
    CHAT_STATUS_CHANGED = "chat_status_changed"
    INTERNAL_NOTE_ADDED = "internal_note_added"
    CHAT_TIMEOUT = "chat_timeout"
    CHAT_REACTIVATED = "chat_reactivated"
    CHAT_RESOLVED = "chat_resolved"
    CHAT_ABANDONED = "chat_abandoned"
    TICKET_CREATED = "ticket_created"
    TICKET_FROM_CHAT = "ticket_from_chat"
    TICKET_RESOLVED = "ticket_resolved"
    SLA_BREACHED = "sla_breached"
    OPERATOR_LOGIN = "operator_login"
    OPERATOR_LOGOUT = "operator_logout"
    FEEDBACK_GIVEN = "feedback_given"
    OPERATOR_FIRST_RESPONSE = "operator_first_response"


class AuditAction(enum.StrEnum):
    """Operator actions written to the append-only audit trail."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    AVAILABILITY = "availability"
    TAKE_CHAT = "take_chat"
    SEND_MESSAGE = "send_message"
    TRANSFER = "transfer"
    HAND_BACK = "hand_back"
    STATUS_CHANGE = "status_change"
    ADD_NOTE = "add_note"
    VIEW_HISTORY = "view_history"
    CREATE_TICKET = "create_ticket"
    UPDATE_TICKET = "update_ticket"
    CREATE_OPERATOR = "create_operator"
    UPDATE_OPERATOR = "update_operator"
    EXPORT = "export"
    ERASE = "erase"
    PURGE = "purge"
    VIEW_AUDIT = "view_audit"
    CREATE_KB_ITEM = "create_kb_item"
    UPDATE_KB_ITEM = "update_kb_item"
    DELETE_KB_ITEM = "delete_kb_item"


class ResponderStatus(enum.StrEnum):
    """How the assistant's responder is doing, as /api/health reports it."""

    OK = "ok"
    DEGRADED = "degraded"
