"""Analytics events: one typed payload per event type of DESIGN.md.

Payloads carry numbers, ids and labels, never what a visitor wrote: analytics outlive
conversations (90 days by default) and must not become a second copy of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

import attrs

from lucine_core.enums import EventType

__all__ = [
    "PAYLOAD_TYPES",
    "AnalyticsEvent",
    "ChatAbandoned",
    "ChatMessage",
    "ChatReactivated",
    "ChatResolved",
    "ChatStatusChanged",
    "ChatTimeout",
    "ChatTransferred",
    "EscalationFailed",
    "EscalationRequest",
    "FeedbackGiven",
    "InternalNoteAdded",
    "KbAnswer",
    "OperatorConnected",
    "OperatorFirstResponse",
    "OperatorLogin",
    "OperatorLogout",
    "Payload",
    "SessionStarted",
    "SlaBreached",
    "SmartActionClicked",
    "TicketCreated",
    "TicketFromChat",
    "TicketResolved",
]


@attrs.frozen(kw_only=True)
class SessionStarted:
    """A visitor's first message opened a session."""

    language: str


@attrs.frozen(kw_only=True)
class ChatMessage:
    """A message was stored; ``response_ms`` is set on replies (time since the question)."""

    sender: str
    length: int
    response_ms: int | None = None


@attrs.frozen(kw_only=True)
class KbAnswer:
    """The assistant answered from the knowledge base."""

    sources: tuple[str, ...]
    confidence: float
    latency_ms: int
    escalation_offered: bool
    reasons: tuple[str, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0


@attrs.frozen(kw_only=True)
class SmartActionClicked:
    """The visitor pressed one of the offered buttons."""

    action: str


@attrs.frozen(kw_only=True)
class EscalationRequest:
    """The visitor asked for a human and was queued."""

    trigger: str
    available_operators: int
    queue_position: int


@attrs.frozen(kw_only=True)
class EscalationFailed:
    """A human was wanted but could not be had; ``fallback`` says what was offered instead."""

    reason: str
    fallback: str


@attrs.frozen(kw_only=True)
class OperatorConnected:
    """An operator took the chat; ``queue_seconds`` is how long the visitor waited."""

    queue_seconds: float | None
    assignment: str


@attrs.frozen(kw_only=True)
class ChatTransferred:
    """The chat moved from one operator to another."""

    from_operator: str
    to_operator: str


@attrs.frozen(kw_only=True)
class ChatStatusChanged:
    """The session changed state (the state machine's audit line)."""

    from_status: str
    to_status: str
    actor: str
    reason: str


@attrs.frozen(kw_only=True)
class InternalNoteAdded:
    """An operator wrote an internal note."""

    length: int


@attrs.frozen(kw_only=True)
class ChatTimeout:
    """The visitor stopped answering while an operator held the chat."""

    inactivity_minutes: int
    status: str


@attrs.frozen(kw_only=True)
class ChatReactivated:
    """A visitor came back to an idle or waiting chat."""

    method: str
    inactive_seconds: float


@attrs.frozen(kw_only=True)
class ChatResolved:
    """An operator closed the chat; ``resolution`` is the closing state."""

    duration_seconds: float
    resolution: str


@attrs.frozen(kw_only=True)
class ChatAbandoned:
    """The visitor left while waiting for a human."""

    stage: str
    waited_seconds: float


@attrs.frozen(kw_only=True)
class TicketCreated:
    """A ticket was opened."""

    ticket_id: str
    source: str
    priority: str
    due_at: datetime


@attrs.frozen(kw_only=True)
class TicketFromChat:
    """A ticket was made from a chat, with its last messages attached."""

    ticket_id: str
    chat_duration_seconds: float
    messages_attached: int


@attrs.frozen(kw_only=True)
class TicketResolved:
    """A ticket reached RESOLVED."""

    ticket_id: str
    resolution_seconds: float
    within_sla: bool


@attrs.frozen(kw_only=True)
class SlaBreached:
    """A target was missed: ``target`` is first_response, queue_wait or ticket_resolution."""

    target: str
    subject_id: str
    due_at: datetime
    late_seconds: float


@attrs.frozen(kw_only=True)
class OperatorLogin:
    """An operator logged in."""

    username: str


@attrs.frozen(kw_only=True)
class OperatorLogout:
    """An operator logged out."""

    username: str


@attrs.frozen(kw_only=True)
class OperatorFirstResponse:
    """An operator's first reply after taking a chat (the first-response SLA's measure)."""

    response_ms: int


@attrs.frozen(kw_only=True)
class FeedbackGiven:
    """The visitor rated the chat."""

    rating: int
    has_comment: bool


Payload = (
    SessionStarted
    | ChatMessage
    | KbAnswer
    | SmartActionClicked
    | EscalationRequest
    | EscalationFailed
    | OperatorConnected
    | ChatTransferred
    | ChatStatusChanged
    | InternalNoteAdded
    | ChatTimeout
    | ChatReactivated
    | ChatResolved
    | ChatAbandoned
    | TicketCreated
    | TicketFromChat
    | TicketResolved
    | SlaBreached
    | OperatorLogin
    | OperatorLogout
    | FeedbackGiven
    | OperatorFirstResponse
)

PAYLOAD_TYPES: Mapping[EventType, type[Payload]] = MappingProxyType(
    {
        EventType.SESSION_STARTED: SessionStarted,
        EventType.CHAT_MESSAGE: ChatMessage,
        EventType.KB_ANSWER: KbAnswer,
        EventType.SMART_ACTION_CLICKED: SmartActionClicked,
        EventType.ESCALATION_REQUEST: EscalationRequest,
        EventType.ESCALATION_FAILED: EscalationFailed,
        EventType.OPERATOR_CONNECTED: OperatorConnected,
        EventType.CHAT_TRANSFERRED: ChatTransferred,
        EventType.CHAT_STATUS_CHANGED: ChatStatusChanged,
        EventType.INTERNAL_NOTE_ADDED: InternalNoteAdded,
        EventType.CHAT_TIMEOUT: ChatTimeout,
        EventType.CHAT_REACTIVATED: ChatReactivated,
        EventType.CHAT_RESOLVED: ChatResolved,
        EventType.CHAT_ABANDONED: ChatAbandoned,
        EventType.TICKET_CREATED: TicketCreated,
        EventType.TICKET_FROM_CHAT: TicketFromChat,
        EventType.TICKET_RESOLVED: TicketResolved,
        EventType.SLA_BREACHED: SlaBreached,
        EventType.OPERATOR_LOGIN: OperatorLogin,
        EventType.OPERATOR_LOGOUT: OperatorLogout,
        EventType.FEEDBACK_GIVEN: FeedbackGiven,
        EventType.OPERATOR_FIRST_RESPONSE: OperatorFirstResponse,
    }
)
"""The payload class of each event type; every EventType has exactly one."""

_TYPE_OF: Mapping[type[Payload], EventType] = {v: k for k, v in PAYLOAD_TYPES.items()}


def _type_of_payload(instance: AnalyticsEvent) -> EventType:
    return _TYPE_OF[type(instance.payload)]


@attrs.frozen(kw_only=True)
class AnalyticsEvent:
    """Something that happened, for statistics; the type follows from the payload.

    Attributes:
        payload: The typed details.
        at: When it happened (the Clock's time).
        session_id: The chat it concerns, if any.
        operator_id: The operator involved, if any.
        id: Assigned by the event store (0 until stored).
    """

    payload: Payload
    at: datetime
    session_id: str | None = None
    operator_id: str | None = None
    id: int = 0
    type: EventType = attrs.field(
        default=attrs.Factory(_type_of_payload, takes_self=True), init=False
    )
