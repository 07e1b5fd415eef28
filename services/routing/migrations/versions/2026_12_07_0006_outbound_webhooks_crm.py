"""Outbound webhooks (subscriptions, deliveries and their attempts) and the CRM owner write-back
(each rep's CRM user id, one sync row per lead and CRM).

Revision ID: routing_0006_outbound
Revises: routing_0005_rep_notifications
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "routing_0006_outbound"
down_revision: str | None = "routing_0005_rep_notifications"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "routing"


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_subscription",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("event_types", pg.ARRAY(sa.String(64)), nullable=False),
        sa.Column("rep_ids", pg.ARRAY(pg.UUID(as_uuid=True)), nullable=False),
        sa.Column("pools", pg.ARRAY(sa.String(100)), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text()),
        _at("previous_secret_expires_at", nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscription")),
        schema=SCHEMA,
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("subscription_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at"),
        sa.Column("last_error", sa.Text()),
        _at("created_at"),
        _at("delivered_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            [f"{SCHEMA}.webhook_subscription.id"],
            name=op.f("fk_webhook_delivery_subscription_id_webhook_subscription"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "subscription_id", "event_id", name=op.f("uq_webhook_delivery_subscription_id_event_id")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')", name=op.f("ck_webhook_delivery_status_known")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_webhook_delivery_subscription_id"), "webhook_delivery", ["subscription_id"], schema=SCHEMA
    )
    op.create_index(
        "ix_webhook_delivery_due",
        "webhook_delivery",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "webhook_attempt",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("delivery_id", pg.UUID(as_uuid=True), nullable=False),
        _at("attempted_at"),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempt")),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            [f"{SCHEMA}.webhook_delivery.id"],
            name=op.f("fk_webhook_attempt_delivery_id_webhook_delivery"),
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_index(op.f("ix_webhook_attempt_delivery_id"), "webhook_attempt", ["delivery_id"], schema=SCHEMA)
    op.create_table(
        "rep_crm_identity",
        sa.Column("rep_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("crm", sa.String(32), nullable=False),
        sa.Column("crm_user_id", sa.String(64), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("rep_id", "crm", name=op.f("pk_rep_crm_identity")),
        schema=SCHEMA,
    )
    op.create_table(
        "crm_sync",
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("crm", sa.String(32), nullable=False),
        sa.Column("assignment_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("rep_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("crm_user_id", sa.String(64), nullable=False),
        sa.Column("lead", pg.JSONB(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at"),
        sa.Column("last_error", sa.Text()),
        sa.Column("record_id", sa.String(64)),
        _at("created_at"),
        _at("updated_at"),
        _at("synced_at", nullable=True),
        sa.PrimaryKeyConstraint("lead_id", "crm", name=op.f("pk_crm_sync")),
        sa.CheckConstraint(
            "state IN ('pending', 'synced', 'failed', 'dead')", name=op.f("ck_crm_sync_state_known")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_crm_sync_due",
        "crm_sync",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("state IN ('pending', 'failed')"),
    )
    op.create_index("ix_crm_sync_state", "crm_sync", ["state"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("crm_sync", schema=SCHEMA)
    op.drop_table("rep_crm_identity", schema=SCHEMA)
    op.drop_table("webhook_attempt", schema=SCHEMA)
    op.drop_table("webhook_delivery", schema=SCHEMA)
    op.drop_table("webhook_subscription", schema=SCHEMA)
