"""The last run of each background job by each process, for /api/health.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

With the jobs in `lucine worker` processes, a web process's health shows when any of
them last swept and purged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``job_runs``."""
    op.create_table(
        "job_runs",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("runner", sa.String(length=200), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "runner", name=op.f("pk_job_runs")),
    )


def downgrade() -> None:
    """Drop it (it only says when the jobs last ran)."""
    op.drop_table("job_runs")
