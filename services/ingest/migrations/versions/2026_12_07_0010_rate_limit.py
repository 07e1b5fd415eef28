"""The form rate limit shared across replicas: post counts per client and fixed window.

Revision ID: ingest_0010_rate_limit
Revises: ingest_0009_audit
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ingest_0010_rate_limit"
down_revision: str | None = "ingest_0009_audit"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.create_table(
        "rate_limit_window",
        sa.Column("client_key", sa.String(200), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_rate_limit_window_window_start", "rate_limit_window", ["window_start"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_rate_limit_window_window_start", "rate_limit_window", schema=SCHEMA)
    op.drop_table("rate_limit_window", schema=SCHEMA)
