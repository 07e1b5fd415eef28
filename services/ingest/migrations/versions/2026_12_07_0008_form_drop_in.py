"""Drop-in for existing HTML forms: a success URL per form, the post's own return URL when the
form allows it, and value transforms in the field map.

Revision ID: ingest_0008
Revises: ingest_0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "ingest_0008"
down_revision: str | None = "ingest_0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.add_column("form", sa.Column("success_url", sa.String(2000)), schema=SCHEMA)
    op.add_column(
        "form",
        sa.Column("allow_return_url", sa.Boolean(), nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    op.add_column(
        "form",
        sa.Column("value_transforms", pg.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("form", "value_transforms", schema=SCHEMA)
    op.drop_column("form", "allow_return_url", schema=SCHEMA)
    op.drop_column("form", "success_url", schema=SCHEMA)
