"""Routing's first schema: reps with their absences and fairness ledger, assignments with their SLA timers,
dispositions, holidays, the fallback queue, the outbox and the processed-event table.

Revision ID: routing_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from shared.migrations import create_messaging_tables

revision: str = "routing_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "routing"


def upgrade() -> None:
    op.create_table(
        "rep",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("skills", pg.ARRAY(sa.String(64)), nullable=False),
        sa.Column("work_start", sa.Time()),
        sa.Column("work_end", sa.Time()),
        sa.Column("work_days", pg.ARRAY(sa.SmallInteger()), nullable=False),
        sa.Column("max_open", sa.Integer()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rep"),
        sa.UniqueConstraint("email", name="uq_rep_email"),
        sa.CheckConstraint("weight >= 1", name="ck_rep_weight_positive"),
        schema=SCHEMA,
    )
    op.create_table(
        "rep_absence",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("rep_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_rep_absence"),
        sa.ForeignKeyConstraint(["rep_id"], [f"{SCHEMA}.rep.id"], name="fk_rep_absence_rep_id_rep"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_rep_absence_ends_after_start"),
        schema=SCHEMA,
    )
    op.create_index("ix_rep_absence_rep_id", "rep_absence", ["rep_id"], schema=SCHEMA)
    op.create_table(
        "rep_ledger",
        sa.Column("rep_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.Column("credit", sa.Double(), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True)),
        sa.Column("last_share", sa.Double()),
        sa.PrimaryKeyConstraint("rep_id", name="pk_rep_ledger"),
        sa.ForeignKeyConstraint(["rep_id"], [f"{SCHEMA}.rep.id"], name="fk_rep_ledger_rep_id_rep"),
        schema=SCHEMA,
    )
    op.create_table(
        "assignment",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("rep_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sla_tier", sa.String(64), nullable=False),
        sa.Column("sla_minutes", sa.Integer(), nullable=False),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sla_breached_at", sa.DateTime(timezone=True)),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_touch_at", sa.DateTime(timezone=True)),
        sa.Column("lead", pg.JSONB(), nullable=False),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("decision", pg.JSONB(), nullable=False),
        sa.Column("qualified_event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("correlation_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("reassignments", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assignment"),
        sa.UniqueConstraint("lead_id", name="uq_assignment_lead_id"),
        sa.ForeignKeyConstraint(["rep_id"], [f"{SCHEMA}.rep.id"], name="fk_assignment_rep_id_rep"),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'rejected', 'sql', 'won', 'lost')",
            name="ck_assignment_status_known",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_assignment_rep_id", "assignment", ["rep_id"], schema=SCHEMA)
    op.create_table(
        "sla_timer",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("assignment_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("rep_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(16)),
        sa.PrimaryKeyConstraint("id", name="pk_sla_timer"),
        sa.ForeignKeyConstraint(
            ["assignment_id"], [f"{SCHEMA}.assignment.id"], name="fk_sla_timer_assignment_id_assignment"
        ),
        sa.CheckConstraint("outcome IN ('breached', 'moot')", name="ck_sla_timer_outcome_known"),
        schema=SCHEMA,
    )
    op.create_index("ix_sla_timer_assignment_id", "sla_timer", ["assignment_id"], schema=SCHEMA)
    # The scanner reads only unfired timers, earliest first; fired ones drop out of the index.
    op.create_index(
        "ix_sla_timer_pending",
        "sla_timer",
        ["due_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("fired_at IS NULL"),
    )
    op.create_table(
        "disposition",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("assignment_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("rep_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("amount", sa.Numeric(14, 2)),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_disposition"),
        sa.ForeignKeyConstraint(
            ["assignment_id"], [f"{SCHEMA}.assignment.id"], name="fk_disposition_assignment_id_assignment"
        ),
        sa.UniqueConstraint("event_id", name="uq_disposition_event_id"),
        schema=SCHEMA,
    )
    op.create_index("ix_disposition_assignment_id", "disposition", ["assignment_id"], schema=SCHEMA)
    op.create_table(
        "touch",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("assignment_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("rep_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_touch"),
        sa.ForeignKeyConstraint(
            ["assignment_id"], [f"{SCHEMA}.assignment.id"], name="fk_touch_assignment_id_assignment"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_touch_assignment_id", "touch", ["assignment_id"], schema=SCHEMA)
    op.create_table(
        "holiday",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_holiday"),
        schema=SCHEMA,
    )
    op.create_table(
        "unassigned_lead",
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("event", pg.JSONB(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("decision", pg.JSONB(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name="pk_unassigned_lead"),
        schema=SCHEMA,
    )
    op.create_index("ix_unassigned_lead_queued_at", "unassigned_lead", ["queued_at"], schema=SCHEMA)
    create_messaging_tables(SCHEMA, consumer=True)


def downgrade() -> None:
    op.drop_table("processed_event", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
    op.drop_table("unassigned_lead", schema=SCHEMA)
    op.drop_table("holiday", schema=SCHEMA)
    op.drop_table("touch", schema=SCHEMA)
    op.drop_table("disposition", schema=SCHEMA)
    op.drop_table("sla_timer", schema=SCHEMA)
    op.drop_table("assignment", schema=SCHEMA)
    op.drop_table("rep_ledger", schema=SCHEMA)
    op.drop_table("rep_absence", schema=SCHEMA)
    op.drop_table("rep", schema=SCHEMA)
