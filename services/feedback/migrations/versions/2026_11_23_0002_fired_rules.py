"""The rules that fired in each lead's latest scoring, for tuning the rubric from outcomes.

Revision ID: feedback_0002
Revises: feedback_0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "feedback_0002"
down_revision: str | None = "feedback_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "feedback"


def upgrade() -> None:
    op.add_column("lead_fact", sa.Column("fired_rules", pg.JSONB()), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("lead_fact", "fired_rules", schema=SCHEMA)
