"""SLA reminders, webhook notifications and the escalation policy: timers get a kind (reminder or
breach), reps an optional manager and a recorded pause, and notifications a durable table of
their own that a worker delivers.

Revision ID: routing_0003_sla
Revises: routing_0002_rules
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "routing_0003_sla"
down_revision: str | None = "routing_0002_rules"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "routing"


def upgrade() -> None:
    op.add_column(
        "sla_timer", sa.Column("kind", sa.String(16), nullable=False, server_default="breach"), schema=SCHEMA
    )
    op.add_column("sla_timer", sa.Column("fraction", sa.Double()), schema=SCHEMA)
    # Existing timers predate reminders: they count as planned, so none is reminded late.
    op.add_column(
        "sla_timer",
        sa.Column("reminders_planned", sa.Boolean(), nullable=False, server_default=sa.true()),
        schema=SCHEMA,
    )
    op.alter_column("sla_timer", "reminders_planned", server_default=sa.false(), schema=SCHEMA)
    # op.f(): these names are final; the naming convention would prefix them once more.
    op.create_check_constraint(
        op.f("ck_sla_timer_kind_known"), "sla_timer", "kind IN ('reminder', 'breach')", schema=SCHEMA
    )
    # The first migration's name went through the convention twice; the model's name is restored.
    op.drop_constraint(op.f("ck_sla_timer_ck_sla_timer_outcome_known"), "sla_timer", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_sla_timer_outcome_known"),
        "sla_timer",
        "outcome IN ('breached', 'moot', 'reminded', 'cancelled')",
        schema=SCHEMA,
    )
    op.create_index(
        "ix_sla_timer_unplanned",
        "sla_timer",
        ["due_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("kind = 'breach' AND NOT reminders_planned AND fired_at IS NULL"),
    )
    # The pause rule counts a rep's recent breaches.
    op.create_index(
        "ix_sla_timer_breaches",
        "sla_timer",
        ["rep_id", "fired_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("outcome = 'breached'"),
    )

    op.add_column("rep", sa.Column("manager_id", pg.UUID(as_uuid=True)), schema=SCHEMA)
    op.add_column("rep", sa.Column("paused_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("rep", sa.Column("paused_reason", sa.Text()), schema=SCHEMA)

    op.create_table(
        "notification",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("lead_id", pg.UUID(as_uuid=True)),
        sa.Column("assignment_id", pg.UUID(as_uuid=True)),
        sa.Column("rep_id", pg.UUID(as_uuid=True)),
        sa.Column("manager_id", pg.UUID(as_uuid=True)),
        sa.Column("message", pg.JSONB(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_notification"),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed', 'unsent')", name=op.f("ck_notification_status_known")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_notification_due",
        "notification",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_notification_assignment_id", "notification", ["assignment_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("notification", schema=SCHEMA)
    op.drop_column("rep", "paused_reason", schema=SCHEMA)
    op.drop_column("rep", "paused_at", schema=SCHEMA)
    op.drop_column("rep", "manager_id", schema=SCHEMA)
    op.drop_index("ix_sla_timer_breaches", "sla_timer", schema=SCHEMA)
    op.drop_index("ix_sla_timer_unplanned", "sla_timer", schema=SCHEMA)
    op.execute(f"DELETE FROM {SCHEMA}.sla_timer WHERE kind = 'reminder'")
    op.execute(f"UPDATE {SCHEMA}.sla_timer SET outcome = 'moot' WHERE outcome = 'cancelled'")
    op.drop_constraint(op.f("ck_sla_timer_outcome_known"), "sla_timer", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_sla_timer_ck_sla_timer_outcome_known"),
        "sla_timer",
        "outcome IN ('breached', 'moot')",
        schema=SCHEMA,
    )
    op.drop_constraint(op.f("ck_sla_timer_kind_known"), "sla_timer", schema=SCHEMA)
    op.drop_column("sla_timer", "reminders_planned", schema=SCHEMA)
    op.drop_column("sla_timer", "fraction", schema=SCHEMA)
    op.drop_column("sla_timer", "kind", schema=SCHEMA)
