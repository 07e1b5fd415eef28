"""A lead without an email: reachable by phone, or known by the platform's lead id.

Revision ID: ingest_0005
Revises: ingest_0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ingest_0005"
down_revision: str | None = "ingest_0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    op.alter_column("lead", "email", existing_type=sa.String(320), nullable=True, schema=SCHEMA)
    op.add_column("lead", sa.Column("phone", sa.String(50)), schema=SCHEMA)
    op.create_index("ix_lead_phone", "lead", ["phone"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_lead_phone", "lead", schema=SCHEMA)
    op.drop_column("lead", "phone", schema=SCHEMA)
    op.execute("UPDATE ingest.lead SET email = 'no-email-' || id || '@lead.invalid' WHERE email IS NULL")
    op.alter_column("lead", "email", existing_type=sa.String(320), nullable=False, schema=SCHEMA)
