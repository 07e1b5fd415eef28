"""Each lead's marketing touchpoints (ingestions and campaign-tagged activities), for attribution.

Revision ID: feedback_0004
Revises: feedback_0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "feedback_0004"
down_revision: str | None = "feedback_0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "feedback"


def upgrade() -> None:
    op.create_table(
        "lead_touchpoint",
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("touch_key", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("source", sa.Text()),
        sa.Column("medium", sa.Text()),
        sa.Column("campaign", sa.Text()),
        sa.Column("ad", sa.Text()),
        sa.Column("utm", pg.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.PrimaryKeyConstraint("lead_id", "touch_key", name="pk_lead_touchpoint"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("lead_touchpoint", schema=SCHEMA)
