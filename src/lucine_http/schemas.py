"""Request and response bodies, in the camelCase the v2.7 widget already speaks."""

# Litestar and msgspec read these annotations at run time: no postponed evaluation here.

from datetime import datetime
from typing import Annotated, Any

import msgspec

from lucine_core.messages import Message
from lucine_core.services.gaps import Gap, GapGroup
from lucine_core.services.retries import OPENING_ID_MIN_LENGTH
from lucine_core.services.views import ChatReply, EscalationOutcome, PollResult, QueueInfo
from lucine_core.text import CLIENT_MESSAGE_ID_PATTERN

__all__ = [
    "ActionIn",
    "ActionOut",
    "ChatIn",
    "ChatOut",
    "ClientMessageId",
    "GapGroupOut",
    "GapOut",
    "GapsOut",
    "MessageOut",
    "PollOut",
    "QueueOut",
    "RatingIn",
    "SessionIn",
    "SmartActionOut",
    "TicketFormIn",
    "TicketFormOut",
    "gaps_out",
    "message_out",
    "queue_out",
]

SessionId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Text = Annotated[str, msgspec.Meta(max_length=20_000)]
ClientMessageId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=CLIENT_MESSAGE_ID_PATTERN,
        description=(
            "The client's own id for this message (1 to 64 of A-Z a-z 0-9 _ -, e.g. a"
            " UUID), unique within the chat. Sending the message again with the same id"
            " (after a lost response) stores nothing new and answers with what was stored"
            " the first time; the same id with another text is a 409. A chat's first"
            " message (no sessionId) is found again by an id of at least"
            f" {OPENING_ID_MIN_LENGTH} random characters, for 10 minutes by default; a"
            " shorter id is matched only within its chat."
        ),
    ),
]


class Camel(msgspec.Struct, rename="camel", kw_only=True):
    """Base of every body: camelCase on the wire."""


class SessionIn(Camel):
    """The chat to act on."""

    session_id: SessionId


class SmartActionOut(Camel):
    """A button under an assistant message."""

    text: str
    action: str


class QueueOut(Camel):
    """A waiting visitor's place."""

    position: int
    estimated_wait_seconds: int


class MessageOut(Camel):
    """A message as the widget shows it (v2.7: sender, message, timestamp, metadata)."""

    seq: int
    sender: str
    message: str
    timestamp: datetime
    metadata: dict[str, Any]


class ChatIn(Camel):
    """A visitor's message; without sessionId a new chat starts."""

    message: Text
    session_id: SessionId | None = None
    client_message_id: ClientMessageId | None = None


class ChatOut(Camel):
    """The reply to a visitor's message."""

    session_id: str
    status: str
    reply: str | None
    smart_actions: list[SmartActionOut]
    sources: list[str]
    confidence: float | None
    language: str
    queue: QueueOut | None = None
    operator: str | None = None
    message: MessageOut | None = None
    reply_pending: Annotated[
        bool,
        msgspec.Meta(
            description=(
                "True when a retried message (same clientMessageId) is stored but its reply"
                " is not, while the assistant holds the chat: a reply the first request is"
                " still writing arrives by poll and stream like any new message."
            )
        ),
    ] = False


class ActionIn(Camel):
    """A smart-action button press."""

    session_id: SessionId
    action: Annotated[str, msgspec.Meta(max_length=40)]


class ActionOut(Camel):
    """What a button press did."""

    session_id: str
    status: str
    outcome: str
    reply: str | None = None
    queue: QueueOut | None = None
    operator: str | None = None
    ticket_offered: bool = False


class PollOut(Camel):
    """New messages and the chat's state (v2.7: messages, sessionStatus, operator)."""

    session_id: str
    session_status: str
    messages: list[MessageOut]
    operator: str | None
    queue: QueueOut | None
    last_seq: int


class RatingIn(Camel):
    """The visitor's rating of a closed chat."""

    session_id: SessionId
    rating: int
    comment: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class TicketFormIn(Camel):
    """The widget's form when nobody is online."""

    session_id: SessionId
    message: Text
    email: Annotated[str, msgspec.Meta(max_length=254)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    name: Annotated[str, msgspec.Meta(max_length=120)] | None = None
    confirm: bool = False
    """The visitor agrees to receive a copy of the request at that address or number."""


class TicketFormOut(Camel):
    """The ticket made from the form."""

    ticket_id: str
    status: str


class GapOut(Camel):
    """A visitor's message the assistant could not answer well (personal data masked)."""

    text: str
    at: datetime
    session_id: str
    confidence: float


class GapGroupOut(Camel):
    """Unanswered messages that ask the same thing; up to five examples, newest first."""

    count: int
    last_at: datetime
    examples: list[GapOut]


class GapsOut(Camel):
    """The knowledge gaps of the last ``days`` days, the largest group first."""

    groups: list[GapGroupOut]
    days: int


def queue_out(queue: QueueInfo | None) -> QueueOut | None:
    """The wire form of a queue place."""
    if queue is None:
        return None
    return QueueOut(position=queue.position, estimated_wait_seconds=queue.estimated_wait_seconds)


def message_out(message: Message) -> MessageOut:
    """What a visitor (or operator) sees of a message: never internal ids of operators."""
    meta = message.meta
    metadata: dict[str, Any] = {}
    if meta.operator_name:
        metadata["operatorName"] = meta.operator_name
    if meta.smart_actions:
        metadata["smartActions"] = [
            {"text": a.text, "action": a.action} for a in meta.smart_actions
        ]
    if meta.sources:
        metadata["sources"] = list(meta.sources)
    if meta.kind:
        metadata["kind"] = meta.kind
    return MessageOut(
        seq=message.seq,
        sender=message.sender.value,
        message=message.text,
        timestamp=message.at,
        metadata=metadata,
    )


def chat_out(reply: ChatReply) -> ChatOut:
    """The wire form of a chat reply."""
    return ChatOut(
        session_id=reply.session_id,
        status=reply.status.value,
        reply=reply.reply.text if reply.reply else None,
        smart_actions=[SmartActionOut(text=a.text, action=a.action) for a in reply.smart_actions],
        sources=list(reply.sources),
        confidence=reply.confidence,
        language=reply.language.value,
        queue=queue_out(reply.queue),
        operator=reply.operator_name,
        message=message_out(reply.reply) if reply.reply else None,
        reply_pending=reply.reply_pending,
    )


def action_out(result: ChatReply | EscalationOutcome) -> ActionOut:
    """The wire form of a button press's result."""
    if isinstance(result, EscalationOutcome):
        return ActionOut(
            session_id=result.session_id,
            status=result.status.value,
            outcome=result.outcome,
            reply=result.message.text if result.message else None,
            queue=queue_out(result.queue),
            operator=result.operator_name,
            ticket_offered=result.ticket_offered,
        )
    return ActionOut(
        session_id=result.session_id,
        status=result.status.value,
        outcome="continue_ai",
        reply=result.reply.text if result.reply else None,
    )


def poll_out(result: PollResult) -> PollOut:
    """The wire form of a poll."""
    return PollOut(
        session_id=result.session_id,
        session_status=result.status.value,
        messages=[message_out(m) for m in result.messages],
        operator=result.operator_name,
        queue=queue_out(result.queue),
        last_seq=result.last_seq,
    )


def _gap_out(gap: Gap) -> GapOut:
    return GapOut(
        text=gap.text,
        at=gap.at,
        session_id=gap.session_id,
        confidence=round(gap.confidence, 3),
    )


def gaps_out(groups: list[GapGroup], days: int) -> GapsOut:
    """The wire form of the knowledge-gaps report."""
    return GapsOut(
        groups=[
            GapGroupOut(
                count=group.count,
                last_at=group.last_at,
                examples=[_gap_out(gap) for gap in group.examples],
            )
            for group in groups
        ],
        days=days,
    )
