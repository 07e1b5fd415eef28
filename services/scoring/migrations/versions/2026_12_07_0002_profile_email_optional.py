"""A lead reachable only by phone (or known by a platform's lead id) has no email.

Revision ID: scoring_0002
Revises: scoring_0001
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scoring_0002"
down_revision: str | None = "scoring_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "scoring"


def upgrade() -> None:
    op.alter_column("lead_profile", "email", existing_type=sa.String(320), nullable=True, schema=SCHEMA)


def downgrade() -> None:
    op.execute("UPDATE scoring.lead_profile SET email = '' WHERE email IS NULL")
    op.alter_column("lead_profile", "email", existing_type=sa.String(320), nullable=False, schema=SCHEMA)
