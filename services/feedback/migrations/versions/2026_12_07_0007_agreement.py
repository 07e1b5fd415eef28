"""The agreement in the facts: each lead's persona, the way back (its latest re-MQL and
qualification round, apart from its first qualification), the currency of a won amount, and
the activated agreement the reports measure against.

Revision ID: feedback_0007_agreement
Revises: feedback_0006
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "feedback_0007_agreement"
down_revision: str | None = "feedback_0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "feedback"


def upgrade() -> None:
    op.create_table(
        "agreement",
        sa.Column("rubric_version", sa.Text(), nullable=False),
        sa.Column("terms", pg.JSONB(), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rubric_version", name=op.f("pk_agreement")),
        schema=SCHEMA,
    )
    # Every won amount keeps its currency; reports convert, never add across currencies.
    op.add_column("lead_fact", sa.Column("currency", sa.Text()), schema=SCHEMA)
    op.add_column("lead_fact", sa.Column("persona", sa.Text()), schema=SCHEMA)
    op.add_column("lead_fact", sa.Column("first_contact_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("lead_fact", sa.Column("re_mql_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column(
        "lead_fact",
        sa.Column("qualification_round", sa.Integer(), nullable=False, server_default=sa.text("0")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for column in ("qualification_round", "re_mql_at", "first_contact_at", "persona", "currency"):
        op.drop_column("lead_fact", column, schema=SCHEMA)
    op.drop_table("agreement", schema=SCHEMA)
