"""The ports: what the core needs from the outside world, as small typing.Protocols.

Adapters implement them without inheriting; mypy checks conformance where the contract
tests annotate their fixtures with these types. Ports that do I/O are async.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

import attrs

from lucine_core.audit import AuditEntry
from lucine_core.enums import (
    EventType,
    Language,
    ResponderStatus,
    Sender,
    SessionStatus,
    TicketStatus,
)
from lucine_core.events import AnalyticsEvent
from lucine_core.kb import Answer, AnswerRequest, KnowledgeBaseItem, RetrievedItem, TextSink
from lucine_core.messages import Message
from lucine_core.operators import Operator
from lucine_core.queue import QueueEntry
from lucine_core.session import ChatSession
from lucine_core.sla import SlaPolicy
from lucine_core.stats import EventSummary
from lucine_core.tickets import InternalNote, Ticket

__all__ = [
    "AuditStore",
    "Clock",
    "EventListener",
    "EventPublisher",
    "EventStore",
    "IdFactory",
    "KnowledgeBase",
    "MessageStore",
    "NoteStore",
    "Notification",
    "Notifier",
    "OperatorStore",
    "PasswordHasher",
    "QueueStore",
    "RateDecision",
    "RateLimiter",
    "RealtimeEvent",
    "Responder",
    "SessionStore",
    "TextGrouper",
    "TicketStore",
    "TokenClaims",
    "TokenIssuer",
    "UnitOfWork",
    "UnitOfWorkFactory",
]


class KnowledgeBase(Protocol):
    """The shop's question/answer items and retrieval over them."""

    async def search(
        self, query: str, *, language: Language | None = None, limit: int = 3
    ) -> Sequence[RetrievedItem]:
        """Return up to ``limit`` items that may answer ``query``, best first.

        Scores are calibrated confidences in [0, 1], the probability that the item
        answers the query. An empty query (no letter or digit) returns an empty
        sequence rather than raising; one unrelated to every item returns nothing or
        only low scores. ``language`` is a hint (the
        visitor's language) that may favour items written in it.
        """
        ...

    async def get(self, item_id: str) -> KnowledgeBaseItem:
        """Return one item.

        Raises:
            NotFoundError: no item has that id.
        """
        ...

    async def list_items(self) -> Sequence[KnowledgeBaseItem]:
        """Return every item, ordered by id."""
        ...

    async def upsert(self, item: KnowledgeBaseItem) -> None:
        """Add the item, or replace the item with the same id; searchable on return."""
        ...

    async def delete(self, item_id: str) -> None:
        """Remove one item.

        Raises:
            NotFoundError: no item has that id.
        """
        ...

    async def replace_all(self, items: Sequence[KnowledgeBaseItem]) -> None:
        """Replace the whole knowledge base at once (an import).

        Raises:
            ValidationError: two items share an id; nothing is changed then.
        """
        ...


class Responder(Protocol):
    """Writes the assistant's reply to a visitor's question."""

    async def answer(self, request: AnswerRequest, *, on_text: TextSink | None = None) -> Answer:
        """Answer the question, citing only ids of ``request.retrieved`` as sources.

        A responder that writes its reply progressively may pass the text, piece by
        piece, to ``on_text`` before returning; the returned answer is what counts.

        Raises:
            ExternalServiceError: the model or service behind it failed or timed out.
        """
        ...

    def status(self) -> ResponderStatus:
        """``OK``, or ``DEGRADED`` while the model keeps failing and a fallback answers."""
        ...


class SessionStore(Protocol):
    """Chat sessions with their state history."""

    async def add(self, session: ChatSession) -> None:
        """Store a new session (version 0 becomes 1).

        Raises:
            ConcurrencyError: another session was opened by the same
                ``opening_client_message_id`` (another writer stored it first; a retry of
                the use case finds it with ``find_opened_by``).
            ConflictError: a session with that id exists.
        """
        ...

    async def find_opened_by(self, client_message_id: str) -> ChatSession | None:
        """The session whose ``opening_client_message_id`` is that id, if any."""
        ...

    async def get(
        self, session_id: str, *, for_update: bool = False, history: bool = True
    ) -> ChatSession:
        """Return a fresh copy of the session; changing it changes nothing stored.

        With ``for_update`` other writers of the session wait until this unit of work
        ends (a row lock where the database has them), so read-modify-write use cases
        queue up instead of failing each other's versioned updates.

        Without ``history`` the earlier state changes are not read (one query less on
        every visitor message and poll): ``history`` then holds only the changes made
        after the read, and ``update`` appends them after the stored ones.

        Raises:
            NotFoundError: no such session.
        """
        ...

    async def update(self, session: ChatSession) -> None:
        """Store the session if nobody changed it since it was read, and bump its version.

        Raises:
            ConcurrencyError: the stored version differs from ``session.version``.
            NotFoundError: no such session.
        """
        ...

    async def list(
        self,
        *,
        statuses: Sequence[SessionStatus] | None = None,
        operator_id: str | None = None,
        ids: Sequence[str] | None = None,
        limit: int = 100,
    ) -> Sequence[ChatSession]:
        """Sessions in the given states (all if None), most recently active first.

        ``ids`` keeps only those sessions (unknown ids are skipped): many at once.
        """
        ...

    async def list_inactive_since(self, cutoff: datetime, *, limit: int) -> Sequence[ChatSession]:
        """Sessions not ENDED whose last activity is at or before ``cutoff``, oldest first."""
        ...

    async def list_created_before(self, cutoff: datetime, *, limit: int) -> Sequence[str]:
        """Ids of sessions whose last activity is before ``cutoff`` (for retention)."""
        ...

    async def count_by_status(self) -> Mapping[SessionStatus, int]:
        """How many sessions are in each state (absent states have none)."""
        ...

    async def loads(self) -> Mapping[str, int]:
        """How many chats each operator holds now (WITH_OPERATOR or WAITING_CLIENT)."""
        ...

    async def delete(self, session_id: str) -> None:
        """Remove the session and its history (idempotent)."""
        ...


class MessageStore(Protocol):
    """Messages of sessions, in their sequence order."""

    async def add(self, message: Message) -> None:
        """Store a message.

        Raises:
            ConcurrencyError: the session already has a message with that
                ``client_message_id`` (another writer stored it first; a retry of the
                use case finds it with ``find_by_client_id``).
            ConflictError: the session already has a message with that sequence number.
        """
        ...

    async def find_by_client_id(self, session_id: str, client_message_id: str) -> Message | None:
        """The session's message stored with that client message id, if any."""
        ...

    async def list(
        self, session_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> Sequence[Message]:
        """Messages with seq > ``after_seq``, in order, at most ``limit``."""
        ...

    async def last(self, session_id: str, count: int) -> Sequence[Message]:
        """The last ``count`` messages of the session, oldest first."""
        ...

    async def latest(
        self, session_ids: Sequence[str], *, sender: Sender | None = None
    ) -> Mapping[str, Message]:
        """The newest message of each session that has one (from ``sender``), by session id."""
        ...

    async def delete_for_session(self, session_id: str) -> int:
        """Remove a session's messages; returns how many."""
        ...


class OperatorStore(Protocol):
    """Operator accounts."""

    async def add(self, operator: Operator) -> None:
        """Store a new operator.

        Raises:
            ConflictError: the id or the username is taken.
        """
        ...

    async def get(self, operator_id: str) -> Operator:
        """Return a copy of the operator.

        Raises:
            NotFoundError: no such operator.
        """
        ...

    async def get_by_username(self, username: str) -> Operator:
        """Return a copy of the operator with this (lower-case) username.

        Raises:
            NotFoundError: no such operator.
        """
        ...

    async def update(self, operator: Operator) -> None:
        """Store changes to an existing operator.

        Raises:
            NotFoundError: no such operator.
        """
        ...

    async def list(self) -> Sequence[Operator]:
        """Every operator, ordered by username."""
        ...


class QueueStore(Protocol):
    """Requests for a human."""

    async def add(self, entry: QueueEntry) -> None:
        """Store a new WAITING entry.

        Raises:
            ConflictError: the session already has a WAITING entry.
        """
        ...

    async def waiting_for(self, session_id: str) -> QueueEntry | None:
        """The session's WAITING entry, if any."""
        ...

    async def list_waiting(self) -> Sequence[QueueEntry]:
        """WAITING entries in queue order (priority, then request time)."""
        ...

    async def claim(self, session_id: str, operator_id: str, at: datetime) -> QueueEntry | None:
        """Atomically turn the session's WAITING entry into ASSIGNED to ``operator_id``.

        Returns None when there is no WAITING entry (never queued, already claimed or
        cancelled); of two concurrent claims exactly one gets the entry.
        """
        ...

    async def cancel(self, session_id: str, at: datetime, reason: str) -> QueueEntry | None:
        """Cancel the session's WAITING entry, if any, and return it."""
        ...

    async def recent_waits(self, since: datetime) -> Sequence[timedelta]:
        """How long the entries assigned since ``since`` waited."""
        ...

    async def delete_for_session(self, session_id: str) -> int:
        """Remove a session's entries; returns how many."""
        ...


class TicketStore(Protocol):
    """Tickets."""

    async def add(self, ticket: Ticket) -> None:
        """Store a new ticket.

        Raises:
            ConflictError: a ticket with that id exists.
        """
        ...

    async def get(self, ticket_id: str) -> Ticket:
        """Return a copy of the ticket.

        Raises:
            NotFoundError: no such ticket.
        """
        ...

    async def update(self, ticket: Ticket) -> None:
        """Store changes to an existing ticket.

        Raises:
            NotFoundError: no such ticket.
        """
        ...

    async def list(
        self,
        *,
        statuses: Sequence[TicketStatus] | None = None,
        session_id: str | None = None,
        email: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Ticket]:
        """Tickets matching every given filter, newest first."""
        ...

    async def delete(self, ticket_id: str) -> None:
        """Remove a ticket (idempotent)."""
        ...


class NoteStore(Protocol):
    """Operators' internal notes."""

    async def add(self, note: InternalNote) -> None:
        """Store a note."""
        ...

    async def list(self, session_id: str) -> Sequence[InternalNote]:
        """A session's notes, oldest first (in the order written when times are equal)."""
        ...

    async def delete_for_session(self, session_id: str) -> int:
        """Remove a session's notes; returns how many."""
        ...


class EventStore(Protocol):
    """Analytics events."""

    async def add(self, events: Sequence[AnalyticsEvent]) -> None:
        """Append events (ids are assigned by the store)."""
        ...

    async def list(
        self,
        *,
        types: Sequence[EventType] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        session_id: str | None = None,
        limit: int | None = None,
    ) -> Sequence[AnalyticsEvent]:
        """Events matching every filter (``since`` inclusive, ``until`` exclusive), oldest first."""
        ...

    async def summarize(self, *, since: datetime, until: datetime, sla: SlaPolicy) -> EventSummary:
        """What the events from ``since`` (inclusive) to ``until`` (exclusive) add up to.

        Equal to ``lucine_core.stats.summarize`` of those events, which defines it, but
        added up by the store (the day's events are many; the summary is one row).
        """
        ...

    async def model_tokens(self, session_id: str) -> int:
        """The model tokens (input and output) of the session's KB_ANSWER events, summed."""
        ...

    async def count_per_period(
        self, *, types: Sequence[EventType], bounds: Sequence[datetime]
    ) -> Sequence[Mapping[EventType, int]]:
        """How many events of each of ``types`` fall in each period between ``bounds``.

        Period ``i`` is ``[bounds[i], bounds[i + 1])``; one mapping per period, in order,
        with every one of ``types`` (zero included). Fewer than two bounds: no periods.

        Raises:
            ValidationError: the bounds do not strictly increase.
        """
        ...

    async def delete_before(self, cutoff: datetime) -> int:
        """Remove events older than ``cutoff``; returns how many."""
        ...

    async def delete_for_session(self, session_id: str) -> int:
        """Remove a session's events; returns how many."""
        ...


class AuditStore(Protocol):
    """The append-only audit trail."""

    async def add(self, entry: AuditEntry) -> None:
        """Append an entry (its id is assigned by the store)."""
        ...

    async def list(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        subject: str | None = None,
        limit: int = 200,
    ) -> Sequence[AuditEntry]:
        """Entries matching every filter, newest first."""
        ...

    async def delete_before(self, cutoff: datetime) -> int:
        """Remove entries older than ``cutoff`` (retention); returns how many."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every store: committed together or not at all.

    Used as ``async with uow_factory() as uow: ... await uow.commit()``; leaving the
    block without commit rolls everything back.
    """

    @property
    def sessions(self) -> SessionStore:
        """Chat sessions."""
        ...

    @property
    def messages(self) -> MessageStore:
        """Messages."""
        ...

    @property
    def operators(self) -> OperatorStore:
        """Operators."""
        ...

    @property
    def queue(self) -> QueueStore:
        """The waiting queue."""
        ...

    @property
    def tickets(self) -> TicketStore:
        """Tickets."""
        ...

    @property
    def notes(self) -> NoteStore:
        """Internal notes."""
        ...

    @property
    def events(self) -> EventStore:
        """Analytics events."""
        ...

    @property
    def audit(self) -> AuditStore:
        """The audit trail."""
        ...

    async def commit(self) -> None:
        """Make every change of this unit durable and visible to others.

        Raises:
            ConcurrencyError: a conflicting transaction committed first; nothing was written.
        """
        ...

    async def rollback(self) -> None:
        """Discard every change of this unit."""
        ...

    async def __aenter__(self) -> Self:
        """Begin the transaction."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back anything not committed."""
        ...


class UnitOfWorkFactory(Protocol):
    """Makes a new unit of work for each use case."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A new, not yet begun, unit of work.

        A ``read_only`` one is only read from and never committed: an adapter may then
        take no write lock (SQLite begins it deferred, reading a snapshot, instead of
        queueing it behind the writers).
        """
        ...


class TextGrouper(Protocol):
    """Groups short texts that mean the same thing (visitor questions)."""

    async def group(self, texts: Sequence[str]) -> Sequence[Sequence[int]]:
        """Return the indices of ``texts`` in groups of like meaning.

        Every index appears in exactly one group; a text like no other is a group of
        its own. Groups and the indices in them may come in any order. Never fails:
        when meaning cannot be compared, identical texts are grouped.
        """
        ...


class Clock(Protocol):
    """The time; tests move it by hand."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class IdFactory(Protocol):
    """New identifiers."""

    def session_id(self) -> str:
        """An unguessable session id (at least 128 random bits, URL-safe)."""
        ...

    def new_id(self) -> str:
        """A unique id for any other record."""
        ...


@attrs.frozen(kw_only=True)
class TokenClaims:
    """What a verified operator token says.

    Attributes:
        operator_id: Whose token it is.
        token_version: The operator's token_version when it was issued; a later bump
            (logout, password change, disabling) revokes it.
        token_id: Unique id of this token.
        expires_at: When it stops being valid.
    """

    operator_id: str
    token_version: int
    token_id: str
    expires_at: datetime


class TokenIssuer(Protocol):
    """Signed, expiring operator tokens."""

    def issue(self, operator: Operator, now: datetime) -> tuple[str, TokenClaims]:
        """A new token for the operator, and what it claims."""
        ...

    def verify(self, token: str, now: datetime) -> TokenClaims:
        """Check signature, algorithm, issuer, audience and times.

        Raises:
            AuthenticationError: anything about the token is wrong.
        """
        ...


@attrs.frozen(kw_only=True)
class RateDecision:
    """Whether one more attempt is allowed now, and when to come back if not."""

    allowed: bool
    remaining: int
    retry_after_seconds: int


class RateLimiter(Protocol):
    """Fixed-window counters shared by every worker that uses the same backend."""

    async def hit(self, key: str, *, limit: int, window: timedelta, now: datetime) -> RateDecision:
        """Count one attempt under ``key`` and say whether it is within ``limit`` per ``window``."""
        ...

    async def peek(self, key: str, *, limit: int, window: timedelta, now: datetime) -> RateDecision:
        """Say whether one more attempt would be allowed, without counting one."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the attempts counted under ``key`` (e.g. after a successful login)."""
        ...


class PasswordHasher(Protocol):
    """One-way password hashing."""

    def hash(self, password: str) -> str:
        """Hash a password for storage.

        Raises:
            ValidationError: the password is empty or too long.
        """
        ...

    def verify(self, password: str, hashed: str) -> bool:
        """True when ``password`` matches ``hashed``; False for any malformed input."""
        ...


@attrs.frozen(kw_only=True)
class Notification:
    """Something people should hear about outside the dashboard.

    Attributes:
        kind: ``no_operator_online``, ``ticket_created``, ``sla_warning``,
            ``sla_breached`` (for the team), ``ticket_confirmation`` (for a visitor).
        subject: One line.
        body: Plain text.
        data: Ids and labels for machines (webhooks).
        recipient: None for the shop's team; a visitor's e-mail address or phone number
            (given with their consent) for a message to that visitor alone.
    """

    kind: str
    subject: str
    body: str
    data: Mapping[str, str] = attrs.Factory(dict)
    recipient: str | None = None


class Notifier(Protocol):
    """Tells people outside the app (log, webhook, e-mail, SMS)."""

    async def notify(self, notification: Notification) -> None:
        """Deliver or queue the notification.

        Raises:
            ExternalServiceError: delivery failed; callers never let this fail a visitor.
        """
        ...


@attrs.frozen(kw_only=True)
class RealtimeEvent:
    """A small push to widgets and dashboards (ids and labels, not whole histories).

    Attributes:
        channel: ``session:<id>`` for one visitor, ``operators`` for the dashboards.
        kind: ``message``, ``status``, ``queue``, ``ticket`` ...
        data: Small JSON-able details.
    """

    channel: str
    kind: str
    data: Mapping[str, str | int | None] = attrs.Factory(dict)


class EventPublisher(Protocol):
    """Pushes realtime events to connected clients, after the change is committed."""

    async def publish(self, *events: RealtimeEvent) -> None:
        """Send each event, in order, to every subscriber of its channel.

        Several events go out in one round trip where the transport allows. Never raises
        for delivery.
        """
        ...

    def listen(self, channel: str) -> EventListener:
        """A subscription to ``channel``; after ``await listener.ready()`` no event is missed."""
        ...


class EventListener(Protocol):
    """One subscription to a realtime channel."""

    async def ready(self) -> None:
        """Return once subscribed: events published after this are received."""
        ...

    def __aiter__(self) -> EventListener:
        """Itself."""
        ...

    async def __anext__(self) -> RealtimeEvent:
        """The next event (waits for one)."""
        ...

    async def aclose(self) -> None:
        """Unsubscribe."""
        ...
