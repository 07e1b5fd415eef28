"""A lead recycled to nurture is a funnel stage of its own (`recycled_at`).

Revision ID: feedback_0005
Revises: feedback_0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "feedback_0005"
down_revision: str | None = "feedback_0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "feedback"


def upgrade() -> None:
    op.add_column("lead_fact", sa.Column("recycled_at", sa.DateTime(timezone=True)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("lead_fact", "recycled_at", schema=SCHEMA)
