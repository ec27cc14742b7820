"""Sentence vectors of the knowledge-base items, stored beside them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

Each item's question, answer and keywords get a float32 vector per encoder; a worker
that starts loads them instead of encoding every item again. Items stored before this
revision are encoded (and their vectors stored) by the first worker that loads them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``kb_vectors``."""
    op.create_table(
        "kb_vectors",
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", "field", "model", name=op.f("pk_kb_vectors")),
    )


def downgrade() -> None:
    """Drop it (the vectors are computed again from the items when needed)."""
    op.drop_table("kb_vectors")
