"""The rep's lead brief: each lead's score explanation and form answers, and its activities.

Revision ID: routing_0007_lead_brief
Revises: routing_0006_outbound
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "routing_0007_lead_brief"
down_revision: str | None = "routing_0006_outbound"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "routing"


def upgrade() -> None:
    op.create_table(
        "lead_brief",
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("score", sa.Double()),
        sa.Column("grade", sa.String(16)),
        sa.Column("rubric_version", sa.String(64)),
        sa.Column("fired_rules", pg.JSONB(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True)),
        sa.Column("form_answers", pg.JSONB(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_lead_brief")),
        schema=SCHEMA,
    )
    op.create_table(
        "lead_activity",
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("activity_type", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.Text()),
        sa.Column("campaign", sa.Text()),
        sa.Column("properties", pg.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_lead_activity")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_lead_activity_lead_occurred", "lead_activity", ["lead_id", "occurred_at"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_lead_activity_lead_occurred", table_name="lead_activity", schema=SCHEMA)
    op.drop_table("lead_activity", schema=SCHEMA)
    op.drop_table("lead_brief", schema=SCHEMA)
