"""The audit trail: who changed what, when, before and after (`shared/audit.py`); append-only.

Revision ID: routing_0009_audit
Revises: routing_0008_commitments
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from shared.audit import append_only_sql

revision: str = "routing_0009_audit"
down_revision: str | None = "routing_0008_commitments"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "routing"


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("object_id", sa.String(255), nullable=False),
        sa.Column("before", pg.JSONB()),
        sa.Column("after", pg.JSONB()),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entry"),
        schema=SCHEMA,
    )
    op.create_index("ix_audit_entry_object", "audit_entry", ["object_type", "object_id", "id"], schema=SCHEMA)
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor", "id"], schema=SCHEMA)
    for statement in append_only_sql(SCHEMA):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit_entry", schema=SCHEMA)
    op.execute(f'DROP FUNCTION "{SCHEMA}".audit_entry_append_only()')
