"""Test leads (ad platforms' test submissions) are kept, flagged, and left out of reports.

Revision ID: feedback_0003
Revises: feedback_0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "feedback_0003"
down_revision: str | None = "feedback_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "feedback"


def upgrade() -> None:
    op.add_column(
        "lead_fact",
        sa.Column("is_test", sa.Boolean(), nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("lead_fact", "is_test", schema=SCHEMA)
