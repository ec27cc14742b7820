"""What use cases return: plain frozen values, ready for HTTP or CLI rendering."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from lucine_core.audit import AuditEntry
from lucine_core.enums import Language, SessionStatus
from lucine_core.messages import Message, SmartActionView
from lucine_core.operators import OperatorView
from lucine_core.session import ChatSession, StatusChange
from lucine_core.sla import SlaCheck
from lucine_core.tickets import InternalNote

__all__ = [
    "ChatReply",
    "ChatSummary",
    "EscalationOutcome",
    "History",
    "PollResult",
    "QueueInfo",
]


@attrs.frozen(kw_only=True)
class QueueInfo:
    """Where a waiting visitor stands."""

    position: int
    estimated_wait_seconds: int


@attrs.frozen(kw_only=True)
class ChatReply:
    """The answer to a visitor's message.

    Attributes:
        session_id: The session (a new one if the old had ENDED or none was given).
        status: The session's state after the message.
        reply: The assistant's (or system's) reply; None when an operator holds the chat.
        smart_actions: Buttons offered with the reply.
        sources: Knowledge-base ids the reply is based on.
        confidence: The responder's confidence, if it answered.
        language: The language the visitor was answered in.
        escalation_reasons: Why a human was offered, if one was.
        queue: The visitor's place in the queue, if waiting.
        operator_name: The operator holding the chat, if any.
        visitor_seq: Sequence number of the visitor's stored message.
        reply_pending: A retried message was found stored but no reply to it is stored
            (yet) although the assistant holds the chat: the first request may still be
            writing it, and it then arrives by poll and stream like any new message.
    """

    session_id: str
    status: SessionStatus
    reply: Message | None
    smart_actions: tuple[SmartActionView, ...] = ()
    sources: tuple[str, ...] = ()
    confidence: float | None = None
    language: Language = Language.IT
    escalation_reasons: tuple[str, ...] = ()
    queue: QueueInfo | None = None
    operator_name: str | None = None
    visitor_seq: int = 0
    reply_pending: bool = False


@attrs.frozen(kw_only=True)
class EscalationOutcome:
    """What happened when the visitor asked for a human.

    Attributes:
        outcome: ``queued``, ``assigned``, ``with_operator`` or ``no_operator``.
        session_id: The session.
        status: The session's state now.
        queue: Position and estimate while waiting.
        operator_name: Who took it, once assigned.
        ticket_offered: True when nobody was online and a ticket form is offered instead.
        message: The system message shown to the visitor.
    """

    outcome: str
    session_id: str
    status: SessionStatus
    queue: QueueInfo | None = None
    operator_name: str | None = None
    ticket_offered: bool = False
    message: Message | None = None


@attrs.frozen(kw_only=True)
class PollResult:
    """What a visitor's widget sees when it polls."""

    session_id: str
    status: SessionStatus
    messages: Sequence[Message]
    operator_name: str | None
    queue: QueueInfo | None
    last_seq: int


@attrs.frozen(kw_only=True)
class ChatSummary:
    """One row of the dashboard's chat lists.

    ``last_message`` and ``last_visitor_message`` are one-line previews of the newest
    message and of the visitor's newest one; ``waited_seconds`` is how long a queued chat
    has waited so far, by the server's clock.
    """

    session_id: str
    status: SessionStatus
    language: Language
    created_at: datetime
    last_activity_at: datetime
    operator_id: str | None
    message_count: int
    last_message: str | None
    last_visitor_message: str | None = None
    queue: QueueInfo | None = None
    requested_at: datetime | None = None
    waited_seconds: int | None = None
    sla: SlaCheck | None = None


@attrs.frozen(kw_only=True)
class History:
    """Everything about one chat an operator may see."""

    session: ChatSession
    messages: Sequence[Message]
    notes: Sequence[InternalNote]
    operators: Sequence[OperatorView]
    changes: Sequence[StatusChange]
    audit: Sequence[AuditEntry] = ()
