"""Each lead's sealing key, so an erasure can destroy it (crypto-shredding, docs/erasure.md).

Revision ID: ingest_0011_lead_key
Revises: ingest_0010_rate_limit
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ingest_0011_lead_key"
down_revision: str | None = "ingest_0010_rate_limit"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.create_table(
        "lead_key",
        sa.Column("lead_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", name="pk_lead_key"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("lead_key", schema=SCHEMA)
