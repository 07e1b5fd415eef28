"""The way back: a lead sales hands back returns to nurture with the reason, and may qualify
again (a re-MQL) after the agreement's cool-down.

Revision ID: scoring_0004_nurture
Revises: scoring_0003
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scoring_0004_nurture"
down_revision: str | None = "scoring_0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "scoring"


def upgrade() -> None:
    op.add_column("lead_profile", sa.Column("requalified_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column(
        "lead_profile", sa.Column("returned_to_nurture_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )
    op.add_column("lead_profile", sa.Column("nurture_reason", sa.String(200)), schema=SCHEMA)
    op.add_column(
        "lead_profile",
        sa.Column("qualification_round", sa.Integer(), nullable=False, server_default=sa.text("0")),
        schema=SCHEMA,
    )
    # Leads that qualified before rounds were counted are in their first.
    op.execute(f"UPDATE {SCHEMA}.lead_profile SET qualification_round = 1 WHERE qualified_at IS NOT NULL")


def downgrade() -> None:
    for column in ("qualification_round", "nurture_reason", "returned_to_nurture_at", "requalified_at"):
        op.drop_column("lead_profile", column, schema=SCHEMA)
