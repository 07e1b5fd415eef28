"""Lead profiles, activities, scores, dispositions, rubric versions, the outbox and processed events.

Revision ID: scoring_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from shared.migrations import create_messaging_tables

revision: str = "scoring_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "scoring"


def upgrade() -> None:
    op.create_table(
        "lead_profile",
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("first_name", sa.String(200)),
        sa.Column("last_name", sa.String(200)),
        sa.Column("company", sa.String(300)),
        sa.Column("job_title", sa.String(300)),
        sa.Column("phone", sa.String(64)),
        sa.Column("country", sa.String(100)),
        sa.Column("company_size", sa.Integer()),
        sa.Column("industry", sa.String(200)),
        sa.Column("source", sa.String(100)),
        sa.Column("consent", sa.Boolean()),
        sa.Column("utm", pg.JSONB(), nullable=False),
        sa.Column("attributes", pg.JSONB(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("qualified_at", sa.DateTime(timezone=True)),
        sa.Column("qualification_reason", sa.String(32)),
        sa.Column("qualified_rubric_version", sa.String(64)),
        sa.PrimaryKeyConstraint("lead_id", name="pk_lead_profile"),
        schema=SCHEMA,
    )
    op.create_table(
        "activity",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("properties", pg.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_activity"),
        sa.ForeignKeyConstraint(
            ["lead_id"], [f"{SCHEMA}.lead_profile.lead_id"], name="fk_activity_lead_id_lead_profile"
        ),
        sa.UniqueConstraint("event_id", name="uq_activity_event_id"),
        schema=SCHEMA,
    )
    op.create_index("ix_activity_lead_id_occurred_at", "activity", ["lead_id", "occurred_at"], schema=SCHEMA)
    op.create_table(
        "score",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", pg.UUID(as_uuid=True)),
        sa.Column("rubric_version", sa.String(64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("fit_score", sa.Float(), nullable=False),
        sa.Column("engagement_score", sa.Float(), nullable=False),
        sa.Column("grade", sa.String(16), nullable=False),
        sa.Column("is_mql", sa.Boolean(), nullable=False),
        sa.Column("fired_rules", pg.JSONB(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_score"),
        sa.ForeignKeyConstraint(
            ["lead_id"], [f"{SCHEMA}.lead_profile.lead_id"], name="fk_score_lead_id_lead_profile"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_score_lead_id_id", "score", ["lead_id", "id"], schema=SCHEMA)
    op.create_table(
        "disposition",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("dispositioned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_disposition"),
        sa.UniqueConstraint("event_id", name="uq_disposition_event_id"),
        schema=SCHEMA,
    )
    op.create_index("ix_disposition_lead_id", "disposition", ["lead_id"], schema=SCHEMA)
    op.create_table(
        "rubric",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("document", pg.JSONB(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        sa.Column("shadow", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("version", name="pk_rubric"),
        sa.CheckConstraint("status IN ('draft', 'active', 'retired')", name="ck_rubric_status"),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_rubric_one_active",
        "rubric",
        ["status"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "rubric_approval",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("team", sa.String(16), nullable=False),
        sa.Column("approver", sa.String(255), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", "team", name="pk_rubric_approval"),
        sa.ForeignKeyConstraint(
            ["version"],
            [f"{SCHEMA}.rubric.version"],
            name="fk_rubric_approval_version_rubric",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("team IN ('marketing', 'sales')", name="ck_rubric_approval_team"),
        schema=SCHEMA,
    )
    op.create_table(
        "rescore_run",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("rubric_version", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("newly_qualified", sa.Integer(), nullable=False),
        sa.Column("cursor", pg.UUID(as_uuid=True)),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_rescore_run"),
        sa.CheckConstraint("reason IN ('activation', 'decay')", name="ck_rescore_run_reason"),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_rescore_run_one_running",
        "rescore_run",
        ["status"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "shadow_score",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("rubric_version", sa.String(64), nullable=False),
        sa.Column("lead_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("grade", sa.String(16), nullable=False),
        sa.Column("is_mql", sa.Boolean(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shadow_score"),
        sa.ForeignKeyConstraint(
            ["rubric_version"],
            [f"{SCHEMA}.rubric.version"],
            name="fk_shadow_score_rubric_version_rubric",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("rubric_version", "event_id", name="uq_shadow_score_rubric_version_event_id"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_shadow_score_rubric_version_lead_id", "shadow_score", ["rubric_version", "lead_id"], schema=SCHEMA
    )
    create_messaging_tables(SCHEMA, consumer=True)


def downgrade() -> None:
    op.drop_table("processed_event", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
    op.drop_table("shadow_score", schema=SCHEMA)
    op.drop_table("rescore_run", schema=SCHEMA)
    op.drop_table("rubric_approval", schema=SCHEMA)
    op.drop_table("rubric", schema=SCHEMA)
    op.drop_table("disposition", schema=SCHEMA)
    op.drop_table("score", schema=SCHEMA)
    op.drop_table("activity", schema=SCHEMA)
    op.drop_table("lead_profile", schema=SCHEMA)
