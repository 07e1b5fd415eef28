"""Accounts by company domain, with an owner; leads attached to them.

Revision ID: ingest_0003
Revises: ingest_0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "ingest_0003"
down_revision: str | None = "ingest_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("owner_id", pg.UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_account"),
        sa.UniqueConstraint("domain", name="uq_account_domain"),
        schema=SCHEMA,
    )
    op.add_column("lead", sa.Column("account_id", pg.UUID(as_uuid=True)), schema=SCHEMA)
    op.create_foreign_key(
        "fk_lead_account_id_account",
        "lead",
        "account",
        ["account_id"],
        ["id"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_constraint("fk_lead_account_id_account", "lead", schema=SCHEMA)
    op.drop_column("lead", "account_id", schema=SCHEMA)
    op.drop_table("account", schema=SCHEMA)
