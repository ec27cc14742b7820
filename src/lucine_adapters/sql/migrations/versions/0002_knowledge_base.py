"""The knowledge base in the database, so edits persist and reach every worker.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

``kb_state`` holds one row once the knowledge base has been seeded (from ``LUCINE_KB``
or the sample); its revision grows with every change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the knowledge-base tables."""
    op.create_table(
        "kb_items",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_items")),
    )
    op.create_table(
        "kb_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_state")),
    )


def downgrade() -> None:
    """Drop them (the items are lost: export them first with `lucine kb export`)."""
    op.drop_table("kb_state")
    op.drop_table("kb_items")
