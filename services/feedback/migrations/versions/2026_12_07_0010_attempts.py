"""The rep's contact attempts per lead (`lead_attempt`: every logged touch, once), so sales'
scorecard counts attempts against each tier's commitment.

Revision ID: feedback_0010_attempts
Revises: feedback_0009_lead_profile
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "feedback_0010_attempts"
down_revision: str | None = "feedback_0009_lead_profile"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "feedback"


def upgrade() -> None:
    op.create_table(
        "lead_attempt",
        sa.Column("lead_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", "touched_at", "channel", name="pk_lead_attempt"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("lead_attempt", schema=SCHEMA)
