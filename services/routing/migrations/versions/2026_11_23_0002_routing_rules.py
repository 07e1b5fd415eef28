"""Routing rules: versioned rule sets, a fairness ledger per pool, daily caps, per-pool fallback queues.

Revision ID: routing_0002_rules
Revises: routing_0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "routing_0002_rules"
down_revision: str | None = "routing_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "routing"
# The packaged default rule set's one pool: the ledger before pools existed becomes its ledger.
DEFAULT_POOL = "default"


def upgrade() -> None:
    op.create_table(
        "rule_set",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("document", pg.JSONB(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("version", name="pk_rule_set"),
        sa.CheckConstraint("status IN ('draft', 'active', 'retired')", name="ck_rule_set_status_known"),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_rule_set_one_active",
        "rule_set",
        ["status"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'active'"),
    )

    op.add_column(
        "rep_ledger",
        sa.Column("pool", sa.String(100), nullable=False, server_default=DEFAULT_POOL),
        schema=SCHEMA,
    )
    op.alter_column("rep_ledger", "pool", server_default=None, schema=SCHEMA)
    op.add_column("rep_ledger", sa.Column("weight", sa.Integer()), schema=SCHEMA)
    op.execute(
        f"UPDATE {SCHEMA}.rep_ledger AS l SET weight = r.weight FROM {SCHEMA}.rep AS r WHERE r.id = l.rep_id"
    )
    op.drop_constraint("pk_rep_ledger", "rep_ledger", schema=SCHEMA)
    op.create_primary_key("pk_rep_ledger", "rep_ledger", ["pool", "rep_id"], schema=SCHEMA)
    op.create_index("ix_rep_ledger_rep_id", "rep_ledger", ["rep_id"], schema=SCHEMA)

    op.add_column("rep", sa.Column("max_per_day", sa.Integer()), schema=SCHEMA)
    op.create_table(
        "rep_day_count",
        sa.Column("rep_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("rep_id", "day", name="pk_rep_day_count"),
        sa.ForeignKeyConstraint(["rep_id"], [f"{SCHEMA}.rep.id"], name="fk_rep_day_count_rep_id_rep"),
        schema=SCHEMA,
    )

    op.add_column(
        "unassigned_lead",
        sa.Column("pool", sa.String(100), nullable=False, server_default=DEFAULT_POOL),
        schema=SCHEMA,
    )
    op.alter_column("unassigned_lead", "pool", server_default=None, schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("unassigned_lead", "pool", schema=SCHEMA)
    op.drop_table("rep_day_count", schema=SCHEMA)
    op.drop_column("rep", "max_per_day", schema=SCHEMA)
    op.drop_index("ix_rep_ledger_rep_id", "rep_ledger", schema=SCHEMA)
    op.drop_constraint("pk_rep_ledger", "rep_ledger", schema=SCHEMA)
    op.execute(f"DELETE FROM {SCHEMA}.rep_ledger WHERE pool <> '{DEFAULT_POOL}'")
    op.create_primary_key("pk_rep_ledger", "rep_ledger", ["rep_id"], schema=SCHEMA)
    op.drop_column("rep_ledger", "weight", schema=SCHEMA)
    op.drop_column("rep_ledger", "pool", schema=SCHEMA)
    op.drop_index("uq_rule_set_one_active", "rule_set", schema=SCHEMA)
    op.drop_table("rule_set", schema=SCHEMA)
