"""A rubric version can be `withdrawn`: a drift draft that a later drift proposal replaced before
both teams signed it. Its version stays taken, and it can no longer be approved or activated.

Revision ID: scoring_0006_rubric_withdrawn
Revises: scoring_0005_fired_rules_json
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "scoring_0006_rubric_withdrawn"
down_revision: str | None = "scoring_0005_fired_rules_json"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

# The name the metadata's naming convention gave the initial migration's constraint.
CONSTRAINT = "ck_rubric_ck_rubric_status"


def _allow(statuses: str) -> None:
    op.execute(
        f"ALTER TABLE scoring.rubric DROP CONSTRAINT {CONSTRAINT}, "
        f"ADD CONSTRAINT {CONSTRAINT} CHECK (status IN ({statuses}))"
    )


def upgrade() -> None:
    _allow("'draft', 'active', 'retired', 'withdrawn'")


def downgrade() -> None:
    # A withdrawn draft was never signed into force: it goes back to being a retired version.
    op.execute("UPDATE scoring.rubric SET status = 'retired' WHERE status = 'withdrawn'")
    _allow("'draft', 'active', 'retired'")
