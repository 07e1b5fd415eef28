"""Feedback's first schema: the lead fact table, the outbox and the processed-event table.

Revision ID: feedback_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from shared.migrations import create_messaging_tables

revision: str = "feedback_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "feedback"

STAGE_TIMESTAMPS = (
    "ingested_at",
    "mql_at",
    "assigned_at",
    "first_touch_at",
    "accepted_at",
    "rejected_at",
    "sql_at",
    "won_at",
    "lost_at",
)


def upgrade() -> None:
    op.create_table(
        "lead_fact",
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        *(sa.Column(name, sa.DateTime(timezone=True)) for name in STAGE_TIMESTAMPS),
        sa.Column("source", sa.Text()),
        sa.Column("form_id", sa.Text()),
        sa.Column("campaign", sa.Text()),
        sa.Column("utm", pg.JSONB()),
        sa.Column("score", sa.Float()),
        sa.Column("grade", sa.Text()),
        sa.Column("rubric_version", sa.Text()),
        sa.Column("scored_at", sa.DateTime(timezone=True)),
        sa.Column("mql_grade", sa.Text()),
        sa.Column("mql_rubric_version", sa.Text()),
        sa.Column("rep_id", pg.UUID(as_uuid=True)),
        sa.Column("assignment_id", pg.UUID(as_uuid=True)),
        sa.Column("sla_tier", sa.Text()),
        sa.Column("sla_due_at", sa.DateTime(timezone=True)),
        sa.Column("sla_met", sa.Boolean(), sa.Computed("first_touch_at <= sla_due_at", persisted=True)),
        sa.Column("reject_reason", sa.Text()),
        sa.Column("loss_reason", sa.Text()),
        sa.Column("amount", sa.Numeric()),
        sa.PrimaryKeyConstraint("lead_id", name="pk_lead_fact"),
        schema=SCHEMA,
    )
    op.create_index("ix_lead_fact_ingested_at", "lead_fact", ["ingested_at"], schema=SCHEMA)
    op.create_index("ix_lead_fact_rep_id", "lead_fact", ["rep_id"], schema=SCHEMA)
    create_messaging_tables(SCHEMA, consumer=True)


def downgrade() -> None:
    op.drop_table("processed_event", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
    op.drop_table("lead_fact", schema=SCHEMA)
