"""Source API keys scoped to forms, with a rate limit of their own.

Revision ID: ingest_0004
Revises: ingest_0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "ingest_0004"
down_revision: str | None = "ingest_0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.add_column("source", sa.Column("form_ids", pg.JSONB()), schema=SCHEMA)
    op.add_column("source", sa.Column("rate_limit_per_minute", sa.Float()), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("source", "rate_limit_per_minute", schema=SCHEMA)
    op.drop_column("source", "form_ids", schema=SCHEMA)
