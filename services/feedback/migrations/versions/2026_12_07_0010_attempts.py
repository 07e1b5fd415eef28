"""The rep's contact attempts per lead (`attempts`: every logged touch), so sales' scorecard
measures attempts against each tier's commitment.

Revision ID: feedback_0010_attempts
Revises: feedback_0009_lead_profile
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "feedback_0010_attempts"
down_revision: str | None = "feedback_0009_lead_profile"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "feedback"


def upgrade() -> None:
    op.add_column(
        "lead_fact",
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("lead_fact", "attempts", schema=SCHEMA)
