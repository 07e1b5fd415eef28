"""A score's explanation is stored as `json` text, not `jsonb`: it is written for every event
scored and only ever read back whole, and converting it to jsonb cost about a sixth of the
database's CPU for the consumer's write statement (issue 19). Rewrites the `score` table.

Revision ID: scoring_0005_fired_rules_json
Revises: scoring_0004_nurture
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "scoring_0005_fired_rules_json"
down_revision: str | None = "scoring_0004_nurture"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "scoring"


def upgrade() -> None:
    op.alter_column(
        "score", "fired_rules", type_=pg.JSON(), postgresql_using="fired_rules::json", schema=SCHEMA
    )


def downgrade() -> None:
    op.alter_column(
        "score", "fired_rules", type_=pg.JSONB(), postgresql_using="fired_rules::jsonb", schema=SCHEMA
    )
