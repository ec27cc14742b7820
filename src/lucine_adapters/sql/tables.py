"""The relational schema: SQLAlchemy Core tables that work on SQLite and Postgres.

Domain classes are not mapped; ``rows.py`` converts between rows and domain objects.
Every index here serves a query of the stores (named in a comment beside it). Only a
session's own history references it by foreign key: messages, queue entries and the rest
are removed explicitly by the erase and purge use cases, as the in-memory adapter does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

__all__ = [
    "audit",
    "events",
    "job_runs",
    "kb_items",
    "kb_state",
    "kb_vectors",
    "messages",
    "metadata",
    "notes",
    "operators",
    "queue_entries",
    "rate_limits",
    "session_changes",
    "sessions",
    "tickets",
]


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them without a zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store in UTC; naive datetimes are refused (the Clock never makes them)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Read back as an aware UTC datetime."""
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(64)

# The last successful run of each background job by each process, for /api/health.
job_runs = Table(
    "job_runs",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("runner", String(200), primary_key=True),
    Column("finished_at", UtcDateTime, nullable=False),
)

# Rate-limit counters shared by every worker when there is no Redis (SqlRateLimiter): the
# current fixed window of each key.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("window", BigInteger, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    # Removing the windows that have ended.
    Index(None, "expires_at"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("status", String(20), nullable=False),
    Column("language", String(5), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_activity_at", UtcDateTime, nullable=False),
    Column("status_changed_at", UtcDateTime, nullable=False),
    Column("operator_id", ID),
    Column("assigned_at", UtcDateTime),
    Column("operator_replied_at", UtcDateTime),
    Column("message_count", Integer, nullable=False),
    Column("escalation", JSON, nullable=False),
    Column("rating", Integer),
    Column("rating_comment", Text),
    Column("sla_alerts", JSON, nullable=False),
    Column("history_count", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("opening_client_message_id", String(64)),
    # The dashboard lists and the sweep: sessions by state, most recently active first.
    Index(None, "status", "last_activity_at"),
    # The sweep and retention: sessions by last activity.
    Index(None, "last_activity_at"),
    # Operator loads and "my chats".
    Index(None, "operator_id", "status"),
    # A retried first message finds the chat it opened: one chat per opening client id.
    Index(
        "uq_sessions_opening_client_message",
        "opening_client_message_id",
        unique=True,
        sqlite_where=text("opening_client_message_id IS NOT NULL"),
        postgresql_where=text("opening_client_message_id IS NOT NULL"),
    ),
)

session_changes = Table(
    "session_changes",
    metadata,
    Column("session_id", ID, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("from_status", String(20), nullable=False),
    Column("to_status", String(20), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("reason", Text, nullable=False),
)

messages = Table(
    "messages",
    metadata,
    # Poll and history: a session's messages by sequence (the primary key's order).
    Column("session_id", ID, primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("id", ID, nullable=False, unique=True),
    Column("sender", String(10), nullable=False),
    Column("text", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("operator_id", ID),
    Column("meta", JSON, nullable=False),
    Column("client_message_id", String(64)),
    # A client's retried message: at most one per client id and session, found by it.
    Index(
        "uq_messages_session_client_message",
        "session_id",
        "client_message_id",
        unique=True,
        sqlite_where=text("client_message_id IS NOT NULL"),
        postgresql_where=text("client_message_id IS NOT NULL"),
    ),
)

operators = Table(
    "operators",
    metadata,
    Column("id", ID, primary_key=True),
    Column("username", String(40), nullable=False, unique=True),
    Column("display_name", String(80), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(10), nullable=False),
    Column("availability", String(10), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("disabled", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_assigned_at", UtcDateTime),
    Column("token_version", Integer, nullable=False),
)

queue_entries = Table(
    "queue_entries",
    metadata,
    Column("id", ID, primary_key=True),
    Column("session_id", ID, nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("operator_id", ID),
    Column("resolved_at", UtcDateTime),
    Column("reason", Text),
    # The waiting queue in serving order.
    Index(None, "status", "priority", "requested_at"),
    # At most one WAITING request per session, enforced by the database itself.
    Index(
        "uq_queue_entries_waiting_session",
        "session_id",
        unique=True,
        sqlite_where=text("status = 'WAITING'"),
        postgresql_where=text("status = 'WAITING'"),
    ),
    Index(None, "session_id"),
    # Recent waits for the estimate.
    Index(None, "status", "resolved_at"),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", ID, primary_key=True),
    Column("subject", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("priority", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("source", String(10), nullable=False),
    Column("contact_name", String(120)),
    Column("contact_email", String(254)),
    Column("contact_phone", String(20)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("session_id", ID),
    Column("operator_id", ID),
    Column("resolved_at", UtcDateTime),
    Column("transcript", JSON, nullable=False),
    Column("sla_alerts", JSON, nullable=False),
    # Ticket lists by status and the SLA sweep by due time.
    Index(None, "status", "due_at"),
    Index(None, "created_at"),
    # Export and erase by contact, tickets of a chat.
    Index(None, "contact_email"),
    Index(None, "session_id"),
)

notes = Table(
    "notes",
    metadata,
    # An ever-growing number keeps notes written in the same instant in writing order.
    Column(
        "position",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("id", ID, nullable=False, unique=True),
    Column("session_id", ID, nullable=False),
    Column("operator_id", ID, nullable=False),
    Column("text", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "session_id", "at"),
)

events = Table(
    "events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("type", String(40), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("session_id", ID),
    Column("operator_id", ID),
    Column("payload", JSON, nullable=False),
    # Stats of a day and the event log by type.
    Index(None, "at"),
    Index(None, "type", "at"),
    # Export and erase of a session.
    Index(None, "session_id"),
)

audit = Table(
    "audit",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(30), nullable=False),
    Column("subject", String(80), nullable=False),
    Column("details", JSON, nullable=False),
    # The trail, newest first, and retention.
    Index(None, "at"),
    Index(None, "subject", "at"),
)

kb_items = Table(
    "kb_items",
    metadata,
    Column("id", ID, primary_key=True),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("keywords", JSON, nullable=False),
    Column("language", String(5), nullable=False),
)

# One row (id 1) once the knowledge base has been seeded; its revision grows with every
# change, so each worker knows when to reload its search index.
kb_state = Table(
    "kb_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("revision", BigInteger, nullable=False),
)

# The sentence vectors of each item's question, answer and keywords under one encoder
# (``model``), written with the item so a new worker loads rather than re-encodes
# them. ``digest`` (SHA-256 of the text encoded) keeps a vector from outliving its text.
kb_vectors = Table(
    "kb_vectors",
    metadata,
    Column("item_id", ID, primary_key=True),
    Column("field", String(16), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("vector", LargeBinary, nullable=False),
)
