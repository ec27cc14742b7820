"""The stores over one SQLAlchemy connection inside a transaction (SQLite or Postgres).

Inserts that may clash use ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` so a clash
is a ConflictError without aborting the transaction; updates that must not overwrite
another writer's change are conditional (``WHERE version = :seen``), so of two racing
writers exactly one succeeds, on both backends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, Table, and_, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, Executable

from lucine_adapters.sql import event_stats, rows
from lucine_adapters.sql import tables as t
from lucine_core.audit import AuditEntry
from lucine_core.enums import EventType, QueueStatus, Sender, SessionStatus, TicketStatus
from lucine_core.errors import ConcurrencyError, ConflictError, NotFoundError
from lucine_core.events import AnalyticsEvent
from lucine_core.messages import Message
from lucine_core.operators import Operator
from lucine_core.queue import QueueEntry
from lucine_core.session import HELD, ChatSession, StatusChange
from lucine_core.sla import SlaPolicy
from lucine_core.stats import EventSummary, check_bounds
from lucine_core.tickets import InternalNote, Ticket

__all__ = [
    "SqlAuditStore",
    "SqlEventStore",
    "SqlMessageStore",
    "SqlNoteStore",
    "SqlOperatorStore",
    "SqlQueueStore",
    "SqlSessionStore",
    "SqlTicketStore",
]

_OPEN = tuple(s.value for s in SessionStatus if s is not SessionStatus.ENDED)


class _SqlStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def _rows(self, statement: Executable) -> Sequence[RowMapping]:
        result = await self._conn.execute(statement)
        return result.mappings().all()

    async def _insert_new(self, table: Table, values: Mapping[str, Any], reason: str) -> None:
        """Insert, or raise ConflictError if a unique key is taken (the transaction goes on)."""
        dialect = self._conn.dialect.name
        module = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(table).values(**values).on_conflict_do_nothing()
        result = await self._conn.execute(statement.returning(*table.primary_key.columns))
        if result.first() is None:
            raise ConflictError(reason=reason)

    async def _insert_claiming(
        self,
        table: Table,
        values: Mapping[str, Any],
        reason: str,
        *,
        kind: str,
        claim: str | None,
        holder: Callable[[str], Awaitable[object | None]],
    ) -> None:
        """Insert like `_insert_new`, but a clash on the client's own unique id is a retry.

        A clash on ``claim`` is a ConcurrencyError: another writer stored it first, and the
        use case run again finds what that writer stored (by ``holder``).
        """
        try:
            await self._insert_new(table, values, reason)
        except ConflictError:
            # ON CONFLICT DO NOTHING does not say which key clashed: look for the claim.
            if claim is None or await holder(claim) is None:
                raise
            raise ConcurrencyError(
                kind=kind, key=claim, reason=f"a {kind} with that client id exists"
            ) from None


class SqlSessionStore(_SqlStore):
    """SessionStore on the sessions and session_changes tables."""

    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        # Per session read or written here: the changes stored, and how many of them the
        # object's history holds (none when read with history=False).
        self._history_seen: dict[str, tuple[int, int]] = {}

    async def _history(self, ids: Sequence[str]) -> dict[str, list[StatusChange]]:
        found: dict[str, list[StatusChange]] = {sid: [] for sid in ids}
        if not ids:
            return found
        query = (
            select(t.session_changes)
            .where(t.session_changes.c.session_id.in_(ids))
            .order_by(t.session_changes.c.session_id, t.session_changes.c.position)
        )
        for row in await self._rows(query):
            found[row["session_id"]].append(rows.change_from_row(row))
        return found

    async def _write_history(self, session: ChatSession, stored: int, loaded: int) -> None:
        fresh = session.history[loaded:]
        if fresh:
            await self._conn.execute(
                insert(t.session_changes),
                [rows.change_to_row(session.id, stored + i, c) for i, c in enumerate(fresh)],
            )
        self._history_seen[session.id] = (stored + len(fresh), len(session.history))

    async def _build(
        self, found: Sequence[RowMapping], *, history: bool = True
    ) -> list[ChatSession]:
        histories = await self._history([r["id"] for r in found]) if history else {}
        sessions = []
        for row in found:
            sessions.append(rows.session_from_row(row, histories.get(row["id"], [])))
            count = row["history_count"]
            self._history_seen[row["id"]] = (count, count if history else 0)
        return sessions

    async def add(self, session: ChatSession) -> None:
        """Insert a session (version 1) and its history; its id and opening client id are new."""
        row = rows.session_to_row(session, history_count=len(session.history)) | {"version": 1}
        await self._insert_claiming(
            t.sessions,
            row,
            "a session with that id exists",
            kind="session",
            claim=session.opening_client_message_id,
            holder=self.find_opened_by,
        )
        session.version = 1
        await self._write_history(session, 0, 0)

    async def find_opened_by(self, client_message_id: str) -> ChatSession | None:
        """The session opened by that client message id (by its partial unique index)."""
        query = select(t.sessions).where(
            t.sessions.c.opening_client_message_id == client_message_id
        )
        found = await self._build(await self._rows(query))
        return found[0] if found else None

    async def get(
        self, session_id: str, *, for_update: bool = False, history: bool = True
    ) -> ChatSession:
        """Read one session, with its history unless not asked (locking it for ``for_update``)."""
        query = select(t.sessions).where(t.sessions.c.id == session_id)
        if for_update:
            query = query.with_for_update()
        found = await self._rows(query)
        if not found:
            raise NotFoundError(kind="session", key=session_id)
        return (await self._build(found, history=history))[0]

    async def update(self, session: ChatSession) -> None:
        """Write the session if its version is still the one read, and append new history."""
        seen = session.version
        known = self._history_seen.get(session.id)
        if known is None:  # not read here: its history is all it holds
            counted = select(func.count()).where(t.session_changes.c.session_id == session.id)
            count = (await self._conn.execute(counted)).scalar_one()
            known = (count, count)
        stored, loaded = known
        values = rows.session_to_row(session, history_count=stored + len(session.history) - loaded)
        values["version"] = seen + 1
        result = await self._conn.execute(
            update(t.sessions)
            .where(t.sessions.c.id == session.id, t.sessions.c.version == seen)
            .values(**{k: v for k, v in values.items() if k != "id"})
        )
        if result.rowcount == 0:
            exists = await self._rows(select(t.sessions.c.id).where(t.sessions.c.id == session.id))
            if not exists:
                raise NotFoundError(kind="session", key=session.id)
            raise ConcurrencyError(kind="session", key=session.id)
        session.version = seen + 1
        await self._write_history(session, stored, loaded)

    async def list(
        self,
        *,
        statuses: Sequence[SessionStatus] | None = None,
        operator_id: str | None = None,
        ids: Sequence[str] | None = None,
        limit: int = 100,
    ) -> Sequence[ChatSession]:
        """Sessions by state, operator and id, most recently active first."""
        query = select(t.sessions)
        if ids is not None:
            query = query.where(t.sessions.c.id.in_(list(ids)))
        if statuses is not None:
            query = query.where(t.sessions.c.status.in_([s.value for s in statuses]))
        if operator_id is not None:
            query = query.where(t.sessions.c.operator_id == operator_id)
        query = query.order_by(t.sessions.c.last_activity_at.desc(), t.sessions.c.id.desc())
        return await self._build(await self._rows(query.limit(limit)))

    async def list_inactive_since(self, cutoff: datetime, *, limit: int) -> Sequence[ChatSession]:
        """Open sessions silent since ``cutoff``, oldest first."""
        query = (
            select(t.sessions)
            .where(t.sessions.c.status.in_(_OPEN), t.sessions.c.last_activity_at <= cutoff)
            .order_by(t.sessions.c.last_activity_at, t.sessions.c.id)
            .limit(limit)
        )
        return await self._build(await self._rows(query))

    async def list_created_before(self, cutoff: datetime, *, limit: int) -> Sequence[str]:
        """Ids of sessions last active before ``cutoff``."""
        query = (
            select(t.sessions.c.id)
            .where(t.sessions.c.last_activity_at < cutoff)
            .order_by(t.sessions.c.last_activity_at, t.sessions.c.id)
            .limit(limit)
        )
        return [r["id"] for r in await self._rows(query)]

    async def count_by_status(self) -> Mapping[SessionStatus, int]:
        """How many sessions are in each state."""
        query = select(t.sessions.c.status, func.count()).group_by(t.sessions.c.status)
        result = await self._conn.execute(query)
        return {SessionStatus(status): count for status, count in result.all()}

    async def loads(self) -> Mapping[str, int]:
        """Chats held per operator."""
        query = (
            select(t.sessions.c.operator_id, func.count())
            .where(t.sessions.c.status.in_([s.value for s in HELD]))
            .where(t.sessions.c.operator_id.is_not(None))
            .group_by(t.sessions.c.operator_id)
        )
        result = await self._conn.execute(query)
        return {row[0]: row[1] for row in result.all()}

    async def delete(self, session_id: str) -> None:
        """Remove the session and its history."""
        await self._conn.execute(
            delete(t.session_changes).where(t.session_changes.c.session_id == session_id)
        )
        await self._conn.execute(delete(t.sessions).where(t.sessions.c.id == session_id))
        self._history_seen.pop(session_id, None)


class SqlMessageStore(_SqlStore):
    """MessageStore on the messages table."""

    async def add(self, message: Message) -> None:
        """Insert a message; its (session, seq), and its client id in the session, must be new."""
        await self._insert_claiming(
            t.messages,
            rows.message_to_row(message),
            "a message with that sequence number exists",
            kind="message",
            claim=message.client_message_id,
            holder=lambda claim: self.find_by_client_id(message.session_id, claim),
        )

    async def find_by_client_id(self, session_id: str, client_message_id: str) -> Message | None:
        """The session's message with that client id (by the partial unique index)."""
        c = t.messages.c
        query = select(t.messages).where(
            c.session_id == session_id, c.client_message_id == client_message_id
        )
        found = await self._rows(query)
        return rows.message_from_row(found[0]) if found else None

    async def latest(
        self, session_ids: Sequence[str], *, sender: Sender | None = None
    ) -> Mapping[str, Message]:
        """The newest message of each session (from ``sender``), in one query."""
        if not session_ids:
            return {}
        among: ColumnElement[bool] = t.messages.c.session_id.in_(list(session_ids))
        if sender is not None:
            among = and_(among, t.messages.c.sender == sender.value)
        newest = (
            select(t.messages.c.session_id, func.max(t.messages.c.seq).label("seq"))
            .where(among)
            .group_by(t.messages.c.session_id)
            .subquery()
        )
        query = select(t.messages).join(
            newest,
            and_(
                t.messages.c.session_id == newest.c.session_id,
                t.messages.c.seq == newest.c.seq,
            ),
        )
        return {r["session_id"]: rows.message_from_row(r) for r in await self._rows(query)}

    async def list(
        self, session_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> Sequence[Message]:
        """Messages after ``after_seq`` in order."""
        query = (
            select(t.messages)
            .where(t.messages.c.session_id == session_id, t.messages.c.seq > after_seq)
            .order_by(t.messages.c.seq)
        )
        if limit is not None:
            query = query.limit(limit)
        return [rows.message_from_row(r) for r in await self._rows(query)]

    async def last(self, session_id: str, count: int) -> Sequence[Message]:
        """The last ``count`` messages, oldest first."""
        if count <= 0:
            return []
        query = (
            select(t.messages)
            .where(t.messages.c.session_id == session_id)
            .order_by(t.messages.c.seq.desc())
            .limit(count)
        )
        return [rows.message_from_row(r) for r in reversed(await self._rows(query))]

    async def delete_for_session(self, session_id: str) -> int:
        """Remove a session's messages."""
        result = await self._conn.execute(
            delete(t.messages).where(t.messages.c.session_id == session_id)
        )
        return int(result.rowcount)


class SqlOperatorStore(_SqlStore):
    """OperatorStore on the operators table."""

    async def add(self, operator: Operator) -> None:
        """Insert an operator; id and username must be new."""
        await self._insert_new(
            t.operators, rows.operator_to_row(operator), "that username is taken"
        )

    async def _one(self, column: Any, value: str) -> Operator:
        found = await self._rows(select(t.operators).where(column == value))
        if not found:
            raise NotFoundError(kind="operator", key=value)
        return rows.operator_from_row(found[0])

    async def get(self, operator_id: str) -> Operator:
        """One operator by id."""
        return await self._one(t.operators.c.id, operator_id)

    async def get_by_username(self, username: str) -> Operator:
        """One operator by username."""
        return await self._one(t.operators.c.username, username)

    async def update(self, operator: Operator) -> None:
        """Write an existing operator."""
        values = rows.operator_to_row(operator)
        del values["id"]
        result = await self._conn.execute(
            update(t.operators).where(t.operators.c.id == operator.id).values(**values)
        )
        if result.rowcount == 0:
            raise NotFoundError(kind="operator", key=operator.id)

    async def list(self) -> Sequence[Operator]:
        """Every operator by username."""
        query = select(t.operators).order_by(t.operators.c.username)
        return [rows.operator_from_row(r) for r in await self._rows(query)]


_WAITING = QueueStatus.WAITING.value


class SqlQueueStore(_SqlStore):
    """QueueStore on queue_entries; a partial unique index allows one WAITING entry per session."""

    async def add(self, entry: QueueEntry) -> None:
        """Insert a WAITING entry."""
        await self._insert_new(
            t.queue_entries,
            rows.queue_to_row(entry),
            "the chat is already waiting for an operator",
        )

    async def waiting_for(self, session_id: str) -> QueueEntry | None:
        """The session's WAITING entry."""
        found = await self._rows(
            select(t.queue_entries).where(
                t.queue_entries.c.session_id == session_id, t.queue_entries.c.status == _WAITING
            )
        )
        return rows.queue_from_row(found[0]) if found else None

    async def list_waiting(self) -> Sequence[QueueEntry]:
        """WAITING entries in serving order."""
        q = t.queue_entries.c
        query = (
            select(t.queue_entries)
            .where(q.status == _WAITING)
            .order_by(q.priority.desc(), q.requested_at, q.id)
        )
        return [rows.queue_from_row(r) for r in await self._rows(query)]

    async def _resolve(self, session_id: str, values: Mapping[str, Any]) -> QueueEntry | None:
        q = t.queue_entries.c
        statement = (
            update(t.queue_entries)
            .where(and_(q.session_id == session_id, q.status == _WAITING))
            .values(**values)
            .returning(t.queue_entries)
        )
        found = await self._rows(statement)
        return rows.queue_from_row(found[0]) if found else None

    async def claim(self, session_id: str, operator_id: str, at: datetime) -> QueueEntry | None:
        """WAITING -> ASSIGNED in one conditional UPDATE: of racing claims one wins."""
        return await self._resolve(
            session_id,
            {"status": QueueStatus.ASSIGNED.value, "operator_id": operator_id, "resolved_at": at},
        )

    async def cancel(self, session_id: str, at: datetime, reason: str) -> QueueEntry | None:
        """WAITING -> CANCELLED."""
        return await self._resolve(
            session_id,
            {"status": QueueStatus.CANCELLED.value, "resolved_at": at, "reason": reason},
        )

    async def recent_waits(self, since: datetime) -> Sequence[timedelta]:
        """Waits of entries assigned since ``since``."""
        q = t.queue_entries.c
        query = select(q.requested_at, q.resolved_at).where(
            q.status == QueueStatus.ASSIGNED.value, q.resolved_at >= since
        )
        return [r["resolved_at"] - r["requested_at"] for r in await self._rows(query)]

    async def delete_for_session(self, session_id: str) -> int:
        """Remove a session's entries."""
        result = await self._conn.execute(
            delete(t.queue_entries).where(t.queue_entries.c.session_id == session_id)
        )
        return int(result.rowcount)


class SqlTicketStore(_SqlStore):
    """TicketStore on the tickets table."""

    async def add(self, ticket: Ticket) -> None:
        """Insert a ticket."""
        await self._insert_new(
            t.tickets, rows.ticket_to_row(ticket), "a ticket with that id exists"
        )

    async def get(self, ticket_id: str) -> Ticket:
        """One ticket."""
        found = await self._rows(select(t.tickets).where(t.tickets.c.id == ticket_id))
        if not found:
            raise NotFoundError(kind="ticket", key=ticket_id)
        return rows.ticket_from_row(found[0])

    async def update(self, ticket: Ticket) -> None:
        """Write an existing ticket."""
        values = rows.ticket_to_row(ticket)
        del values["id"]
        result = await self._conn.execute(
            update(t.tickets).where(t.tickets.c.id == ticket.id).values(**values)
        )
        if result.rowcount == 0:
            raise NotFoundError(kind="ticket", key=ticket.id)

    async def list(
        self,
        *,
        statuses: Sequence[TicketStatus] | None = None,
        session_id: str | None = None,
        email: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Ticket]:
        """Tickets by filters, newest first."""
        c = t.tickets.c
        query = select(t.tickets)
        if statuses is not None:
            query = query.where(c.status.in_([s.value for s in statuses]))
        if session_id is not None:
            query = query.where(c.session_id == session_id)
        if email is not None:
            query = query.where(c.contact_email == email)
        query = query.order_by(c.created_at.desc(), c.id.desc()).limit(limit).offset(offset)
        return [rows.ticket_from_row(r) for r in await self._rows(query)]

    async def delete(self, ticket_id: str) -> None:
        """Remove a ticket."""
        await self._conn.execute(delete(t.tickets).where(t.tickets.c.id == ticket_id))


class SqlNoteStore(_SqlStore):
    """NoteStore on the notes table."""

    async def add(self, note: InternalNote) -> None:
        """Insert a note."""
        await self._conn.execute(insert(t.notes).values(**rows.note_to_row(note)))

    async def list(self, session_id: str) -> Sequence[InternalNote]:
        """A session's notes in writing order."""
        query = (
            select(t.notes)
            .where(t.notes.c.session_id == session_id)
            .order_by(t.notes.c.at, t.notes.c.position)
        )
        return [rows.note_from_row(r) for r in await self._rows(query)]

    async def delete_for_session(self, session_id: str) -> int:
        """Remove a session's notes."""
        result = await self._conn.execute(delete(t.notes).where(t.notes.c.session_id == session_id))
        return int(result.rowcount)


class SqlEventStore(_SqlStore):
    """EventStore on the events table."""

    async def add(self, events: Sequence[AnalyticsEvent]) -> None:
        """Insert events in one statement."""
        if events:
            await self._conn.execute(insert(t.events), [rows.event_to_row(e) for e in events])

    async def list(
        self,
        *,
        types: Sequence[EventType] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        session_id: str | None = None,
        limit: int | None = None,
    ) -> Sequence[AnalyticsEvent]:
        """Events by filters, oldest first."""
        c = t.events.c
        query = select(t.events)
        if types is not None:
            query = query.where(c.type.in_([e.value for e in types]))
        if since is not None:
            query = query.where(c.at >= since)
        if until is not None:
            query = query.where(c.at < until)
        if session_id is not None:
            query = query.where(c.session_id == session_id)
        query = query.order_by(c.at, c.id)
        if limit is not None:
            query = query.limit(limit)
        return [rows.event_from_row(r) for r in await self._rows(query)]

    async def summarize(self, *, since: datetime, until: datetime, sla: SlaPolicy) -> EventSummary:
        """The period's summary, added up by the database in one statement."""
        (row,) = await self._rows(event_stats.summary_query(since, until, sla))
        return event_stats.summary_from_row(row)

    async def model_tokens(self, session_id: str) -> int:
        """Summed by the database (by the session's index), not read event by event."""
        c = t.events.c
        spent = c.payload["input_tokens"].as_integer() + c.payload["output_tokens"].as_integer()
        query = select(func.coalesce(func.sum(spent), 0)).where(
            c.session_id == session_id, c.type == EventType.KB_ANSWER.value
        )
        return int((await self._conn.execute(query)).scalar_one())

    async def count_per_period(
        self, *, types: Sequence[EventType], bounds: Sequence[datetime]
    ) -> Sequence[Mapping[EventType, int]]:
        """Counts per period and type, by the database in one statement."""
        check_bounds(bounds)
        if len(bounds) < 2 or not types:  # noqa: PLR2004 - two bounds make one period
            return [dict.fromkeys(types, 0) for _ in bounds[1:]]
        found = await self._rows(event_stats.period_query(types, bounds, self._conn.dialect.name))
        return event_stats.period_counts(found, types, len(bounds) - 1)

    async def delete_before(self, cutoff: datetime) -> int:
        """Remove events older than ``cutoff``."""
        result = await self._conn.execute(delete(t.events).where(t.events.c.at < cutoff))
        return int(result.rowcount)

    async def delete_for_session(self, session_id: str) -> int:
        """Remove a session's events."""
        result = await self._conn.execute(
            delete(t.events).where(t.events.c.session_id == session_id)
        )
        return int(result.rowcount)


class SqlAuditStore(_SqlStore):
    """AuditStore on the audit table."""

    async def add(self, entry: AuditEntry) -> None:
        """Append an entry."""
        await self._conn.execute(insert(t.audit).values(**rows.audit_to_row(entry)))

    async def list(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        subject: str | None = None,
        limit: int = 200,
    ) -> Sequence[AuditEntry]:
        """Entries by filters, newest first."""
        c = t.audit.c
        query = select(t.audit)
        if since is not None:
            query = query.where(c.at >= since)
        if until is not None:
            query = query.where(c.at < until)
        if actor is not None:
            query = query.where(c.actor == actor)
        if subject is not None:
            query = query.where(c.subject == subject)
        query = query.order_by(c.at.desc(), c.id.desc()).limit(limit)
        return [rows.audit_from_row(r) for r in await self._rows(query)]

    async def delete_before(self, cutoff: datetime) -> int:
        """Remove entries older than ``cutoff``."""
        result = await self._conn.execute(delete(t.audit).where(t.audit.c.at < cutoff))
        return int(result.rowcount)
