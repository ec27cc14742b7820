"""In-memory adapters of every store and the unit of work: production code for tests and embedding.

A unit of work holds one lock for its whole life, so transactions run one at a time
(serialisable, like SQLite's single writer). Every write is journalled with its undo,
so leaving without commit restores exactly what was there. Entities are copied on the
way in and out, so a caller changing an object it read changes nothing stored.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self, TypeVar

import attrs

from lucine_core import events as ev
from lucine_core.audit import AuditEntry
from lucine_core.enums import EventType, QueueStatus, Sender, SessionStatus, TicketStatus
from lucine_core.errors import ConcurrencyError, ConflictError, NotFoundError
from lucine_core.events import AnalyticsEvent
from lucine_core.messages import Message
from lucine_core.operators import Operator
from lucine_core.queue import QueueEntry, queue_order
from lucine_core.session import HELD, ChatSession
from lucine_core.sla import SlaPolicy
from lucine_core.stats import (
    STATS_EVENT_TYPES,
    EventSummary,
    check_bounds,
    period_of,
    summarize,
)
from lucine_core.tickets import InternalNote, Ticket

__all__ = ["InMemoryDatabase", "InMemoryUnitOfWork"]

K = TypeVar("K")
V = TypeVar("V")
_MISSING = object()


class _Journal:
    """Undo actions of the current transaction, applied in reverse on rollback."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def put(self, table: dict[K, V], key: K, value: V) -> None:
        previous = table.get(key, _MISSING)
        table[key] = value
        self._undo.append(lambda: _restore(table, key, previous))

    def pop(self, table: dict[K, V], key: K) -> V | None:
        if key not in table:
            return None
        previous = table.pop(key)
        self._undo.append(lambda: _restore(table, key, previous))
        return previous

    def rollback(self) -> None:
        while self._undo:
            self._undo.pop()()

    def forget(self) -> None:
        self._undo.clear()


def _restore(table: dict[K, V], key: K, previous: object) -> None:
    if previous is _MISSING:
        table.pop(key, None)
    else:
        table[key] = previous  # type: ignore[assignment]  # it came out of this table


@attrs.define
class _Tables:
    sessions: dict[str, ChatSession] = attrs.Factory(dict)
    messages: dict[tuple[str, int], Message] = attrs.Factory(dict)
    operators: dict[str, Operator] = attrs.Factory(dict)
    queue: dict[str, QueueEntry] = attrs.Factory(dict)
    tickets: dict[str, Ticket] = attrs.Factory(dict)
    notes: dict[str, InternalNote] = attrs.Factory(dict)
    events: dict[int, AnalyticsEvent] = attrs.Factory(dict)
    audit: dict[int, AuditEntry] = attrs.Factory(dict)
    counters: dict[str, int] = attrs.Factory(dict)


class InMemoryDatabase:
    """All data of one in-memory Lucine; call it to get a unit of work."""

    def __init__(self) -> None:
        self.tables = _Tables()
        self.lock = asyncio.Lock()

    def __call__(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        """A new unit of work over this database (every one holds the lock: one at a time)."""
        return InMemoryUnitOfWork(self)


class _Store:
    def __init__(self, tables: _Tables, journal: _Journal) -> None:
        self._t = tables
        self._j = journal

    def _next_id(self, name: str) -> int:
        value = self._t.counters.get(name, 0) + 1
        self._j.put(self._t.counters, name, value)
        return value


def _copy_session(session: ChatSession) -> ChatSession:
    clone = copy.deepcopy(session)
    clone.pending_events = []
    return clone


class InMemorySessionStore(_Store):
    """SessionStore over a dict."""

    def __init__(self, tables: _Tables, journal: _Journal) -> None:
        super().__init__(tables, journal)
        # How many stored changes each session read here holds (none with history=False).
        self._loaded: dict[str, int] = {}

    async def add(self, session: ChatSession) -> None:
        key = session.opening_client_message_id
        if key is not None and await self.find_opened_by(key) is not None:
            raise ConcurrencyError(
                kind="session", key=key, reason="a chat opened by that client id exists"
            )
        if session.id in self._t.sessions:
            raise ConflictError(reason="a session with that id exists")
        session.version = 1
        self._j.put(self._t.sessions, session.id, _copy_session(session))

    async def find_opened_by(self, client_message_id: str) -> ChatSession | None:
        return next(
            (
                _copy_session(s)
                for s in self._t.sessions.values()
                if s.opening_client_message_id == client_message_id
            ),
            None,
        )

    async def get(
        self, session_id: str, *, for_update: bool = False, history: bool = True
    ) -> ChatSession:
        """A copy of the session (units of work are serialised here, so no lock is needed)."""
        try:
            found = _copy_session(self._t.sessions[session_id])
        except KeyError:
            raise NotFoundError(kind="session", key=session_id) from None
        if not history:
            found.history = []
        self._loaded[session_id] = len(found.history)
        return found

    async def update(self, session: ChatSession) -> None:
        stored = self._t.sessions.get(session.id)
        if stored is None:
            raise NotFoundError(kind="session", key=session.id)
        if stored.version != session.version:
            raise ConcurrencyError(kind="session", key=session.id)
        session.version += 1
        loaded = self._loaded.get(session.id, len(stored.history))
        kept = _copy_session(session)
        kept.history = [*stored.history, *copy.deepcopy(session.history[loaded:])]
        self._loaded[session.id] = len(session.history)
        self._j.put(self._t.sessions, session.id, kept)

    async def list(
        self,
        *,
        statuses: Sequence[SessionStatus] | None = None,
        operator_id: str | None = None,
        ids: Sequence[str] | None = None,
        limit: int = 100,
    ) -> Sequence[ChatSession]:
        wanted = None if ids is None else set(ids)
        found = [
            s
            for s in self._t.sessions.values()
            if (statuses is None or s.status in statuses)
            and (operator_id is None or s.operator_id == operator_id)
            and (wanted is None or s.id in wanted)
        ]
        found.sort(key=lambda s: (s.last_activity_at, s.id), reverse=True)
        return [_copy_session(s) for s in found[:limit]]

    async def list_inactive_since(self, cutoff: datetime, *, limit: int) -> Sequence[ChatSession]:
        found = [
            s
            for s in self._t.sessions.values()
            if s.status is not SessionStatus.ENDED and s.last_activity_at <= cutoff
        ]
        found.sort(key=lambda s: (s.last_activity_at, s.id))
        return [_copy_session(s) for s in found[:limit]]

    async def list_created_before(self, cutoff: datetime, *, limit: int) -> Sequence[str]:
        found = sorted(
            (s.last_activity_at, s.id)
            for s in self._t.sessions.values()
            if s.last_activity_at < cutoff
        )
        return [sid for _, sid in found[:limit]]

    async def count_by_status(self) -> Mapping[SessionStatus, int]:
        counts: dict[SessionStatus, int] = {}
        for s in self._t.sessions.values():
            counts[s.status] = counts.get(s.status, 0) + 1
        return counts

    async def loads(self) -> Mapping[str, int]:
        counts: dict[str, int] = {}
        for s in self._t.sessions.values():
            if s.status in HELD and s.operator_id:
                counts[s.operator_id] = counts.get(s.operator_id, 0) + 1
        return counts

    async def delete(self, session_id: str) -> None:
        self._j.pop(self._t.sessions, session_id)


class InMemoryMessageStore(_Store):
    """MessageStore over a dict keyed by (session, seq)."""

    async def add(self, message: Message) -> None:
        key = (message.session_id, message.seq)
        client_id = message.client_message_id
        if client_id is not None:
            taken = await self.find_by_client_id(message.session_id, client_id)
            if taken is not None:
                raise ConcurrencyError(
                    kind="message", key=client_id, reason="a message with that client id exists"
                )
        if key in self._t.messages:
            raise ConflictError(reason="a message with that sequence number exists")
        self._j.put(self._t.messages, key, message)

    async def find_by_client_id(self, session_id: str, client_message_id: str) -> Message | None:
        return next(
            (
                m
                for (sid, _), m in self._t.messages.items()
                if sid == session_id and m.client_message_id == client_message_id
            ),
            None,
        )

    def _of(self, session_id: str) -> list[Message]:
        return sorted(
            (m for (sid, _), m in self._t.messages.items() if sid == session_id),
            key=lambda m: m.seq,
        )

    async def list(
        self, session_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> Sequence[Message]:
        found = [m for m in self._of(session_id) if m.seq > after_seq]
        return found if limit is None else found[:limit]

    async def last(self, session_id: str, count: int) -> Sequence[Message]:
        return self._of(session_id)[-count:] if count > 0 else []

    async def latest(
        self, session_ids: Sequence[str], *, sender: Sender | None = None
    ) -> Mapping[str, Message]:
        wanted = set(session_ids)
        newest: dict[str, Message] = {}
        for (sid, _), message in self._t.messages.items():
            if sid not in wanted or (sender is not None and message.sender is not sender):
                continue
            if sid not in newest or message.seq > newest[sid].seq:
                newest[sid] = message
        return newest

    async def delete_for_session(self, session_id: str) -> int:
        keys = [k for k in self._t.messages if k[0] == session_id]
        for key in keys:
            self._j.pop(self._t.messages, key)
        return len(keys)


class InMemoryOperatorStore(_Store):
    """OperatorStore over a dict."""

    async def add(self, operator: Operator) -> None:
        if operator.id in self._t.operators or any(
            o.username == operator.username for o in self._t.operators.values()
        ):
            raise ConflictError(reason="that username is taken")
        self._j.put(self._t.operators, operator.id, copy.deepcopy(operator))

    async def get(self, operator_id: str) -> Operator:
        try:
            return copy.deepcopy(self._t.operators[operator_id])
        except KeyError:
            raise NotFoundError(kind="operator", key=operator_id) from None

    async def get_by_username(self, username: str) -> Operator:
        for operator in self._t.operators.values():
            if operator.username == username:
                return copy.deepcopy(operator)
        raise NotFoundError(kind="operator", key=username)

    async def update(self, operator: Operator) -> None:
        if operator.id not in self._t.operators:
            raise NotFoundError(kind="operator", key=operator.id)
        self._j.put(self._t.operators, operator.id, copy.deepcopy(operator))

    async def list(self) -> Sequence[Operator]:
        return [
            copy.deepcopy(o) for o in sorted(self._t.operators.values(), key=lambda o: o.username)
        ]


class InMemoryQueueStore(_Store):
    """QueueStore over a dict keyed by entry id."""

    def _waiting(self, session_id: str) -> QueueEntry | None:
        for entry in self._t.queue.values():
            if entry.session_id == session_id and entry.status is QueueStatus.WAITING:
                return entry
        return None

    async def add(self, entry: QueueEntry) -> None:
        if self._waiting(entry.session_id) is not None:
            raise ConflictError(reason="the chat is already waiting for an operator")
        self._j.put(self._t.queue, entry.id, copy.deepcopy(entry))

    async def waiting_for(self, session_id: str) -> QueueEntry | None:
        return copy.deepcopy(self._waiting(session_id))

    async def list_waiting(self) -> Sequence[QueueEntry]:
        waiting = [e for e in self._t.queue.values() if e.status is QueueStatus.WAITING]
        return [copy.deepcopy(e) for e in sorted(waiting, key=queue_order)]

    async def _resolve(
        self, session_id: str, change: Callable[[QueueEntry], None]
    ) -> QueueEntry | None:
        entry = self._waiting(session_id)
        if entry is None:
            return None
        updated = copy.deepcopy(entry)
        change(updated)
        self._j.put(self._t.queue, updated.id, updated)
        return copy.deepcopy(updated)

    async def claim(self, session_id: str, operator_id: str, at: datetime) -> QueueEntry | None:
        return await self._resolve(session_id, lambda e: e.assign(operator_id, at))

    async def cancel(self, session_id: str, at: datetime, reason: str) -> QueueEntry | None:
        return await self._resolve(session_id, lambda e: e.cancel(at, reason))

    async def recent_waits(self, since: datetime) -> Sequence[timedelta]:
        return [
            e.resolved_at - e.requested_at
            for e in self._t.queue.values()
            if e.status is QueueStatus.ASSIGNED
            and e.resolved_at is not None
            and e.resolved_at >= since
        ]

    async def delete_for_session(self, session_id: str) -> int:
        ids = [e.id for e in self._t.queue.values() if e.session_id == session_id]
        for entry_id in ids:
            self._j.pop(self._t.queue, entry_id)
        return len(ids)


def _copy_ticket(ticket: Ticket) -> Ticket:
    clone = copy.deepcopy(ticket)
    clone.pending_events = []
    return clone


class InMemoryTicketStore(_Store):
    """TicketStore over a dict."""

    async def add(self, ticket: Ticket) -> None:
        if ticket.id in self._t.tickets:
            raise ConflictError(reason="a ticket with that id exists")
        self._j.put(self._t.tickets, ticket.id, _copy_ticket(ticket))

    async def get(self, ticket_id: str) -> Ticket:
        try:
            return _copy_ticket(self._t.tickets[ticket_id])
        except KeyError:
            raise NotFoundError(kind="ticket", key=ticket_id) from None

    async def update(self, ticket: Ticket) -> None:
        if ticket.id not in self._t.tickets:
            raise NotFoundError(kind="ticket", key=ticket.id)
        self._j.put(self._t.tickets, ticket.id, _copy_ticket(ticket))

    async def list(
        self,
        *,
        statuses: Sequence[TicketStatus] | None = None,
        session_id: str | None = None,
        email: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Ticket]:
        found = [
            t
            for t in self._t.tickets.values()
            if (statuses is None or t.status in statuses)
            and (session_id is None or t.session_id == session_id)
            and (email is None or t.contact.email == email)
        ]
        found.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return [_copy_ticket(t) for t in found[offset : offset + limit]]

    async def delete(self, ticket_id: str) -> None:
        self._j.pop(self._t.tickets, ticket_id)


class InMemoryNoteStore(_Store):
    """NoteStore over a dict."""

    async def add(self, note: InternalNote) -> None:
        self._j.put(self._t.notes, note.id, note)

    async def list(self, session_id: str) -> Sequence[InternalNote]:
        return sorted(
            (n for n in self._t.notes.values() if n.session_id == session_id),
            key=lambda n: n.at,
        )

    async def delete_for_session(self, session_id: str) -> int:
        ids = [n.id for n in self._t.notes.values() if n.session_id == session_id]
        for note_id in ids:
            self._j.pop(self._t.notes, note_id)
        return len(ids)


class InMemoryEventStore(_Store):
    """EventStore over a dict keyed by the assigned id."""

    async def add(self, events: Sequence[AnalyticsEvent]) -> None:
        for event in events:
            event_id = self._next_id("events")
            self._j.put(self._t.events, event_id, attrs.evolve(event, id=event_id))

    async def list(
        self,
        *,
        types: Sequence[EventType] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        session_id: str | None = None,
        limit: int | None = None,
    ) -> Sequence[AnalyticsEvent]:
        found = sorted(
            (
                e
                for e in self._t.events.values()
                if (types is None or e.type in types)
                and (since is None or e.at >= since)
                and (until is None or e.at < until)
                and (session_id is None or e.session_id == session_id)
            ),
            key=lambda e: (e.at, e.id),
        )
        return found if limit is None else found[:limit]

    async def summarize(self, *, since: datetime, until: datetime, sla: SlaPolicy) -> EventSummary:
        found = await self.list(types=STATS_EVENT_TYPES, since=since, until=until)
        return summarize(found, sla=sla)

    async def model_tokens(self, session_id: str) -> int:
        return sum(
            e.payload.input_tokens + e.payload.output_tokens
            for e in self._t.events.values()
            if e.session_id == session_id and isinstance(e.payload, ev.KbAnswer)
        )

    async def count_per_period(
        self, *, types: Sequence[EventType], bounds: Sequence[datetime]
    ) -> Sequence[Mapping[EventType, int]]:
        check_bounds(bounds)
        counts = [dict.fromkeys(types, 0) for _ in bounds[1:]]
        for e in self._t.events.values():
            period = period_of(e.at, bounds) if e.type in types else None
            if period is not None:
                counts[period][e.type] += 1
        return counts

    def _delete(self, doomed: Iterable[int]) -> int:
        count = 0
        for event_id in list(doomed):
            self._j.pop(self._t.events, event_id)
            count += 1
        return count

    async def delete_before(self, cutoff: datetime) -> int:
        return self._delete(i for i, e in self._t.events.items() if e.at < cutoff)

    async def delete_for_session(self, session_id: str) -> int:
        return self._delete(i for i, e in self._t.events.items() if e.session_id == session_id)


class InMemoryAuditStore(_Store):
    """AuditStore over a dict keyed by the assigned id; entries are never changed."""

    async def add(self, entry: AuditEntry) -> None:
        entry_id = self._next_id("audit")
        self._j.put(self._t.audit, entry_id, attrs.evolve(entry, id=entry_id))

    async def list(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        subject: str | None = None,
        limit: int = 200,
    ) -> Sequence[AuditEntry]:
        found = sorted(
            (
                e
                for e in self._t.audit.values()
                if (since is None or e.at >= since)
                and (until is None or e.at < until)
                and (actor is None or e.actor == actor)
                and (subject is None or e.subject == subject)
            ),
            key=lambda e: (e.at, e.id),
            reverse=True,
        )
        return found[:limit]

    async def delete_before(self, cutoff: datetime) -> int:
        doomed = [i for i, e in self._t.audit.items() if e.at < cutoff]
        for entry_id in doomed:
            self._j.pop(self._t.audit, entry_id)
        return len(doomed)


class InMemoryUnitOfWork:
    """One serialised transaction over an InMemoryDatabase."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._db = database
        self._journal = _Journal()
        tables = database.tables
        self.sessions = InMemorySessionStore(tables, self._journal)
        self.messages = InMemoryMessageStore(tables, self._journal)
        self.operators = InMemoryOperatorStore(tables, self._journal)
        self.queue = InMemoryQueueStore(tables, self._journal)
        self.tickets = InMemoryTicketStore(tables, self._journal)
        self.notes = InMemoryNoteStore(tables, self._journal)
        self.events = InMemoryEventStore(tables, self._journal)
        self.audit = InMemoryAuditStore(tables, self._journal)

    async def __aenter__(self) -> Self:
        await self._db.lock.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._journal.rollback()
        finally:
            self._db.lock.release()

    async def commit(self) -> None:
        """Keep every change made so far."""
        self._journal.forget()

    async def rollback(self) -> None:
        """Undo every change not yet committed."""
        self._journal.rollback()
