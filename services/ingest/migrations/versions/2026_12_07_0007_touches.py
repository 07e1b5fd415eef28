"""Touches, not merged UTM: each submission keeps its own attribution, the lead its first.

Revision ID: ingest_0007
Revises: ingest_0006
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "ingest_0007"
down_revision: str | None = "ingest_0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.add_column("submission", sa.Column("touch", pg.JSONB()), schema=SCHEMA)
    op.add_column("lead", sa.Column("first_touch", pg.JSONB()), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("lead", "first_touch", schema=SCHEMA)
    op.drop_column("submission", "touch", schema=SCHEMA)
