"""The id a client gives its message, so a retried message is stored once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08

``messages.client_message_id`` is null for every message stored before (and for those
the assistant, the system and clients without ids write); a partial unique index allows
one message per id and session, and finds it. ``sessions.opening_client_message_id`` is
the id of the message that opened a chat, when long enough to name it: unique, so a
retried first message (sent without a session id) finds its chat instead of opening
another.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MESSAGES_INDEX = "uq_messages_session_client_message"
SESSIONS_INDEX = "uq_sessions_opening_client_message"
GIVEN = sa.text("client_message_id IS NOT NULL")
OPENED = sa.text("opening_client_message_id IS NOT NULL")


def upgrade() -> None:
    """Add the columns and their indexes (SQLite adds them without rebuilding the tables)."""
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("client_message_id", sa.String(length=64), nullable=True))
        batch.create_index(
            MESSAGES_INDEX,
            ["session_id", "client_message_id"],
            unique=True,
            sqlite_where=GIVEN,
            postgresql_where=GIVEN,
        )
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(
            sa.Column("opening_client_message_id", sa.String(length=64), nullable=True)
        )
        batch.create_index(
            SESSIONS_INDEX,
            ["opening_client_message_id"],
            unique=True,
            sqlite_where=OPENED,
            postgresql_where=OPENED,
        )


def downgrade() -> None:
    """Drop them (retries of messages stored before are then stored again)."""
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index(SESSIONS_INDEX)
        batch.drop_column("opening_client_message_id")
    with op.batch_alter_table("messages") as batch:
        batch.drop_index(MESSAGES_INDEX)
        batch.drop_column("client_message_id")
