"""The chat session entity: its state changes only through methods that record why.

Each method consults the transition table (states.py) and, when the state changes,
appends a StatusChange and a chat_status_changed event. The use cases persist the
session, the recorded events and any messages in one unit of work.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from lucine_core import events as ev
from lucine_core.actors import SYSTEM, VISITOR, Actor
from lucine_core.enums import Language, Sender, SessionStatus, Trigger
from lucine_core.errors import ConflictError, PermissionDeniedError, ValidationError
from lucine_core.escalation import EscalationState
from lucine_core.messages import Message, MessageMeta
from lucine_core.states import TERMINAL, TRANSITIONS, next_status

__all__ = ["HELD", "ChatSession", "StatusChange"]

HELD = frozenset({SessionStatus.WITH_OPERATOR, SessionStatus.WAITING_CLIENT})
"""States in which an operator holds the chat (and it counts towards their load)."""

_CLOSE_TRIGGERS = {
    SessionStatus.RESOLVED: Trigger.CLOSE_RESOLVED,
    SessionStatus.NOT_RESOLVED: Trigger.CLOSE_NOT_RESOLVED,
    SessionStatus.CANCELLED: Trigger.CLOSE_CANCELLED,
}


@attrs.frozen(kw_only=True)
class StatusChange:
    """One line of a session's state history: who moved it where, when and why."""

    from_status: SessionStatus
    to_status: SessionStatus
    at: datetime
    actor: str
    reason: str


@attrs.define(kw_only=True)
class ChatSession:
    """A visitor's conversation, from first message to ENDED.

    Attributes:
        id: Server-issued, unguessable; the visitor's only key.
        status: One of the eight states.
        language: The visitor's language, re-detected on each message.
        created_at: When the first message arrived.
        last_activity_at: Last message or state change; the timeouts count from here.
        status_changed_at: When the current state was entered.
        operator_id: The operator holding the chat (or who closed it last).
        assigned_at: When the current operator took it.
        operator_replied_at: The current operator's first reply, for the SLA.
        message_count: Messages so far; the next one gets ``message_count + 1``.
        escalation: What the escalation rules remember between answers.
        rating: The visitor's rating (1-5) after a close.
        rating_comment: The visitor's comment with the rating.
        sla_alerts: SLA warnings and breaches already raised, so each is raised once.
        opening_client_message_id: The client message id of the message that opened the
            chat, when long enough to name it (see `lucine_core.services.retries`): a
            client that lost the answer to its first message finds the chat by it.
        version: Optimistic-concurrency counter, bumped by the store on each update.
        history: Every state change.
        pending_events: Events recorded since the session was loaded, to be stored.
    """

    id: str
    status: SessionStatus
    language: Language
    created_at: datetime
    last_activity_at: datetime
    status_changed_at: datetime
    operator_id: str | None = None
    assigned_at: datetime | None = None
    operator_replied_at: datetime | None = None
    message_count: int = 0
    escalation: EscalationState = EscalationState()
    rating: int | None = None
    rating_comment: str | None = None
    sla_alerts: frozenset[str] = frozenset()
    opening_client_message_id: str | None = None
    version: int = 0
    history: list[StatusChange] = attrs.Factory(list)
    pending_events: list[ev.AnalyticsEvent] = attrs.field(factory=list, eq=False, repr=False)

    @classmethod
    def start(
        cls,
        *,
        session_id: str,
        language: Language,
        at: datetime,
        opening_client_message_id: str | None = None,
    ) -> ChatSession:
        """Open a session for a visitor's first message."""
        session = cls(
            id=session_id,
            status=SessionStatus.ACTIVE,
            language=language,
            created_at=at,
            last_activity_at=at,
            status_changed_at=at,
            opening_client_message_id=opening_client_message_id,
        )
        session.record(ev.SessionStarted(language=language.value), at)
        return session

    @property
    def is_terminal(self) -> bool:
        """True once the session has ENDED; a new message then starts a new session."""
        return self.status in TERMINAL

    @property
    def is_held(self) -> bool:
        """True while an operator holds the chat."""
        return self.status in HELD

    def record(self, payload: ev.Payload, at: datetime, operator_id: str | None = None) -> None:
        """Record an analytics event about this session."""
        self.pending_events.append(
            ev.AnalyticsEvent(payload=payload, at=at, session_id=self.id, operator_id=operator_id)
        )

    def take_events(self) -> list[ev.AnalyticsEvent]:
        """Hand over the recorded events (the caller stores them) and forget them."""
        taken, self.pending_events = self.pending_events, []
        return taken

    def allows(self, trigger: Trigger) -> bool:
        """Whether the state machine allows ``trigger`` now."""
        return (self.status, trigger) in TRANSITIONS

    def apply(self, trigger: Trigger, *, at: datetime, actor: Actor, reason: str) -> SessionStatus:
        """Move along the transition table, recording the change if the state changes.

        Returns:
            The state before the trigger.

        Raises:
            IllegalTransitionError: the table has no such transition.
        """
        before = self.status
        after = next_status(before, trigger)
        if after != before:
            self.status = after
            self.status_changed_at = at
            self.history.append(
                StatusChange(
                    from_status=before, to_status=after, at=at, actor=str(actor), reason=reason
                )
            )
            self.record(
                ev.ChatStatusChanged(
                    from_status=before.value, to_status=after.value, actor=str(actor), reason=reason
                ),
                at,
                operator_id=actor.id,
            )
        self.last_activity_at = max(self.last_activity_at, at)
        return before

    def add_message(
        self,
        *,
        message_id: str,
        sender: Sender,
        text: str,
        at: datetime,
        operator_id: str | None = None,
        meta: MessageMeta = MessageMeta(),
        response_ms: int | None = None,
        client_message_id: str | None = None,
    ) -> Message:
        """Append a message with the next sequence number and record chat_message."""
        self.message_count += 1
        self.last_activity_at = max(self.last_activity_at, at)
        self.record(
            ev.ChatMessage(sender=sender.value, length=len(text), response_ms=response_ms),
            at,
            operator_id=operator_id,
        )
        return Message(
            id=message_id,
            session_id=self.id,
            seq=self.message_count,
            sender=sender,
            text=text,
            at=at,
            operator_id=operator_id,
            meta=meta,
            client_message_id=client_message_id,
        )

    def visitor_writes(self, at: datetime) -> None:
        """The visitor wrote: wakes an idle or waiting chat, reopens a closed one."""
        inactive = (at - self.last_activity_at).total_seconds()
        before = self.apply(Trigger.VISITOR_WRITES, at=at, actor=VISITOR, reason="visitor wrote")
        if before in (SessionStatus.IDLE, SessionStatus.WAITING_CLIENT):
            self.record(ev.ChatReactivated(method="visitor_message", inactive_seconds=inactive), at)
        elif before is not self.status:
            # A closed chat reopened: it is the assistant's again, with a fresh start.
            self._release_operator()

    def take(
        self, operator_id: str, at: datetime, *, assignment: str, queued_at: datetime | None
    ) -> None:
        """An operator takes the chat.

        Raises:
            ConflictError: another operator (or this one) already holds the chat.
            IllegalTransitionError: the chat cannot be taken in its state.
        """
        if self.is_held:
            raise ConflictError(reason="the chat is already taken by an operator")
        self.apply(
            Trigger.OPERATOR_TAKES, at=at, actor=Actor.operator(operator_id), reason=assignment
        )
        self.operator_id = operator_id
        self.assigned_at = at
        self.operator_replied_at = None
        waited = (at - queued_at).total_seconds() if queued_at else None
        self.record(
            ev.OperatorConnected(queue_seconds=waited, assignment=assignment), at, operator_id
        )

    def ensure_holder(self, operator_id: str, action: str) -> None:
        """Raise unless ``operator_id`` holds the chat now.

        Raises:
            PermissionDeniedError: the chat is held by someone else or by nobody.
        """
        if not self.is_held or self.operator_id != operator_id:
            raise PermissionDeniedError(action=action)

    def operator_writes(self, operator_id: str, at: datetime) -> None:
        """The holding operator wrote; the first reply stops the first-response clock."""
        next_status(self.status, Trigger.OPERATOR_WRITES)
        self.ensure_holder(operator_id, "write to this chat")
        self.apply(
            Trigger.OPERATOR_WRITES, at=at, actor=Actor.operator(operator_id), reason="reply"
        )
        if self.operator_replied_at is None:
            self.operator_replied_at = at

    def transfer(self, *, actor: Actor, to_operator: str, at: datetime) -> str:
        """Give the chat to another operator; returns the previous holder's id.

        Raises:
            ValidationError: the chat is already with that operator.
        """
        next_status(self.status, Trigger.TRANSFER)
        previous = self.operator_id or ""
        if previous == to_operator:
            raise ValidationError(
                field="toOperatorId", reason="the chat is already with that operator"
            )
        self.apply(Trigger.TRANSFER, at=at, actor=actor, reason=f"transfer to {to_operator}")
        self.operator_id = to_operator
        self.assigned_at = at
        self.operator_replied_at = None
        self.record(
            ev.ChatTransferred(from_operator=previous, to_operator=to_operator), at, to_operator
        )
        return previous

    def hand_back(self, *, actor: Actor, at: datetime) -> None:
        """The operator returns the chat to the assistant."""
        self.apply(Trigger.HAND_BACK, at=at, actor=actor, reason="handed back to the assistant")
        self._release_operator()

    def close(self, status: SessionStatus, *, actor: Actor, at: datetime, reason: str) -> None:
        """Close the chat as RESOLVED, NOT_RESOLVED or CANCELLED.

        Raises:
            ValidationError: ``status`` is not a closing state.
        """
        trigger = _CLOSE_TRIGGERS.get(status)
        if trigger is None:
            raise ValidationError(
                field="status", reason="must be RESOLVED, NOT_RESOLVED or CANCELLED"
            )
        self.apply(trigger, at=at, actor=actor, reason=reason)
        self.record(
            ev.ChatResolved(
                duration_seconds=(at - self.created_at).total_seconds(), resolution=status.value
            ),
            at,
            self.operator_id,
        )

    def rate(self, rating: int, comment: str | None, at: datetime) -> None:
        """The visitor rates a closed chat (once; a second rating replaces the first).

        Raises:
            ValidationError: the rating is not 1 to 5.
        """
        if not 1 <= rating <= 5:  # noqa: PLR2004 - the scale is part of the domain
            raise ValidationError(field="rating", reason="must be between 1 and 5")
        self.apply(Trigger.RATE, at=at, actor=VISITOR, reason="rated")
        self.rating = rating
        self.rating_comment = comment
        self.record(
            ev.FeedbackGiven(rating=rating, has_comment=bool(comment)), at, self.operator_id
        )

    def mark_inactive(self, at: datetime, inactivity_minutes: int) -> SessionStatus:
        """The visitor has been silent too long: ACTIVE goes IDLE, a held chat WAITING_CLIENT."""
        before = self.apply(
            Trigger.VISITOR_INACTIVE, at=at, actor=SYSTEM, reason="visitor inactive"
        )
        if before is SessionStatus.WITH_OPERATOR:
            self.record(
                ev.ChatTimeout(inactivity_minutes=inactivity_minutes, status=self.status.value),
                at,
                self.operator_id,
            )
        return before

    def end(self, at: datetime) -> SessionStatus:
        """No activity for long enough: the session ENDS for good."""
        return self.apply(Trigger.NO_ACTIVITY, at=at, actor=SYSTEM, reason="no activity")

    def _release_operator(self) -> None:
        self.operator_id = None
        self.assigned_at = None
        self.operator_replied_at = None
        self.escalation = EscalationState()
