"""The initial schema: sessions, their history, messages, operators, queue, tickets, logs.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Written out in full rather than imported from ``tables.py``: a revision describes the
schema as it was then, whatever ``tables.py`` says later. ``UtcDateTime`` columns are
plain ``DateTime(timezone=True)`` here; the conversion lives in Python only.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(length=64)
# Autoincrementing keys: BIGSERIAL on Postgres, SQLite's INTEGER PRIMARY KEY (the rowid).
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WAITING = sa.text("status = 'WAITING'")


def _at(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create every table and index."""
    op.create_table(
        "sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        _at("created_at"),
        _at("last_activity_at"),
        _at("status_changed_at"),
        sa.Column("operator_id", ID, nullable=True),
        _at("assigned_at", nullable=True),
        _at("operator_replied_at", nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("escalation", sa.JSON(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("sla_alerts", sa.JSON(), nullable=False),
        sa.Column("history_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    op.create_index(
        op.f("ix_sessions_status_last_activity_at"), "sessions", ["status", "last_activity_at"]
    )
    op.create_index(op.f("ix_sessions_last_activity_at"), "sessions", ["last_activity_at"])
    op.create_index(op.f("ix_sessions_operator_id_status"), "sessions", ["operator_id", "status"])

    op.create_table(
        "session_changes",
        sa.Column("session_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        _at("at"),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_session_changes_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "position", name=op.f("pk_session_changes")),
    )

    op.create_table(
        "messages",
        sa.Column("session_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("sender", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _at("at"),
        sa.Column("operator_id", ID, nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "seq", name=op.f("pk_messages")),
        sa.UniqueConstraint("id", name=op.f("uq_messages_id")),
    )

    op.create_table(
        "operators",
        sa.Column("id", ID, nullable=False),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("availability", sa.String(length=10), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("disabled", sa.Integer(), nullable=False),
        _at("created_at"),
        _at("last_assigned_at", nullable=True),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("username", name=op.f("uq_operators_username")),
    )

    op.create_table(
        "queue_entries",
        sa.Column("id", ID, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        _at("requested_at"),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("operator_id", ID, nullable=True),
        _at("resolved_at", nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_entries")),
    )
    op.create_index(
        op.f("ix_queue_entries_status_priority_requested_at"),
        "queue_entries",
        ["status", "priority", "requested_at"],
    )
    op.create_index(
        "uq_queue_entries_waiting_session",
        "queue_entries",
        ["session_id"],
        unique=True,
        sqlite_where=WAITING,
        postgresql_where=WAITING,
    )
    op.create_index(op.f("ix_queue_entries_session_id"), "queue_entries", ["session_id"])
    op.create_index(
        op.f("ix_queue_entries_status_resolved_at"), "queue_entries", ["status", "resolved_at"]
    )

    op.create_table(
        "tickets",
        sa.Column("id", ID, nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("contact_name", sa.String(length=120), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("contact_phone", sa.String(length=20), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _at("due_at"),
        sa.Column("session_id", ID, nullable=True),
        sa.Column("operator_id", ID, nullable=True),
        _at("resolved_at", nullable=True),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("sla_alerts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index(op.f("ix_tickets_status_due_at"), "tickets", ["status", "due_at"])
    op.create_index(op.f("ix_tickets_created_at"), "tickets", ["created_at"])
    op.create_index(op.f("ix_tickets_contact_email"), "tickets", ["contact_email"])
    op.create_index(op.f("ix_tickets_session_id"), "tickets", ["session_id"])

    op.create_table(
        "notes",
        sa.Column("position", SERIAL, autoincrement=True, nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("operator_id", ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _at("at"),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_notes")),
        sa.UniqueConstraint("id", name=op.f("uq_notes_id")),
    )
    op.create_index(op.f("ix_notes_session_id_at"), "notes", ["session_id", "at"])

    op.create_table(
        "events",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        _at("at"),
        sa.Column("session_id", ID, nullable=True),
        sa.Column("operator_id", ID, nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_at"), "events", ["at"])
    op.create_index(op.f("ix_events_type_at"), "events", ["type", "at"])
    op.create_index(op.f("ix_events_session_id"), "events", ["session_id"])

    op.create_table(
        "audit",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        _at("at"),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    op.create_index(op.f("ix_audit_at"), "audit", ["at"])
    op.create_index(op.f("ix_audit_subject_at"), "audit", ["subject", "at"])


def downgrade() -> None:
    """Drop everything (indexes go with their tables)."""
    for table in (
        "audit",
        "events",
        "notes",
        "tickets",
        "queue_entries",
        "operators",
        "messages",
        "session_changes",
        "sessions",
    ):
        op.drop_table(table)
