"""Drift proposals (`agreement_drift`): the measured rates that left the intervals the agreement
in force was planned with, and the revised plan; at most one open at a time.

Revision ID: feedback_0011_agreement_drift
Revises: feedback_0010_attempts
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "feedback_0011_agreement_drift"
down_revision: str | None = "feedback_0010_attempts"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "feedback"


def upgrade() -> None:
    op.create_table(
        "agreement_drift",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("rubric_version", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drifted", postgresql.JSONB(), nullable=False),
        sa.Column("rates", postgresql.JSONB(), nullable=False),
        sa.Column("mql_commitment_before", sa.Integer()),
        sa.Column("mql_commitment_after", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name="pk_agreement_drift"),
        schema=SCHEMA,
    )
    # The database, not the loop, guarantees one open proposal: two replicas' checks cannot both open one.
    op.create_index(
        "uq_agreement_drift_open",
        "agreement_drift",
        ["status"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_table("agreement_drift", schema=SCHEMA)
