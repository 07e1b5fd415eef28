"""Leads by email, submissions with their idempotency keys, the outbox.

Revision ID: ingest_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from shared.migrations import create_messaging_tables

revision: str = "ingest_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.create_table(
        "lead",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lead"),
        sa.UniqueConstraint("email", name="uq_lead_email"),
        schema=SCHEMA,
    )
    op.create_table(
        "submission",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("form_id", sa.String(200), nullable=False),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("fields", pg.JSONB(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_submission"),
        sa.ForeignKeyConstraint(["lead_id"], [f"{SCHEMA}.lead.id"], name="fk_submission_lead_id_lead"),
        sa.UniqueConstraint("event_id", name="uq_submission_event_id"),
        sa.UniqueConstraint("idempotency_key", name="uq_submission_idempotency_key"),
        schema=SCHEMA,
    )
    op.create_index("ix_submission_lead_id", "submission", ["lead_id"], schema=SCHEMA)
    create_messaging_tables(SCHEMA, consumer=False)


def downgrade() -> None:
    op.drop_table("outbox", schema=SCHEMA)
    op.drop_table("submission", schema=SCHEMA)
    op.drop_table("lead", schema=SCHEMA)
