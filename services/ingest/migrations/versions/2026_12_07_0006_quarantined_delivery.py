"""Quarantine: authenticated deliveries that could not be mapped, kept whole until replayed.

Revision ID: ingest_0006
Revises: ingest_0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "ingest_0006"
down_revision: str | None = "ingest_0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.create_table(
        "quarantined_delivery",
        sa.Column("id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("detail", pg.JSONB(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("params", pg.JSONB(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True)),
        sa.Column("lead_id", pg.UUID(as_uuid=True)),
        sa.Column("event_id", pg.UUID(as_uuid=True)),
        sa.PrimaryKeyConstraint("id", name="pk_quarantined_delivery"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_quarantined_delivery_received_at", "quarantined_delivery", ["received_at"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_table("quarantined_delivery", schema=SCHEMA)
