"""The lead's profile as ingested (`profile`: the fields a rubric may test, never names, email or
phone), so rubric tuning can discover rules the rubric does not name yet.

Revision ID: feedback_0009_lead_profile
Revises: feedback_0008_rubric_version
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "feedback_0009_lead_profile"
down_revision: str | None = "feedback_0008_rubric_version"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "feedback"


def upgrade() -> None:
    op.add_column("lead_fact", sa.Column("profile", postgresql.JSONB()), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("lead_fact", "profile", schema=SCHEMA)
