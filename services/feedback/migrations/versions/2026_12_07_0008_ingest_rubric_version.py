"""The rubric version that judged a lead when it arrived (`ingest_rubric_version`, the version of
its earliest scoring, timed by `first_scored_at`), so the funnel by rubric version counts an
unqualified lead under the version active at its ingestion, not under a later re-score's.

Revision ID: feedback_0008_rubric_version
Revises: feedback_0007_agreement
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "feedback_0008_rubric_version"
down_revision: str | None = "feedback_0007_agreement"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "feedback"


def upgrade() -> None:
    op.add_column("lead_fact", sa.Column("first_scored_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("lead_fact", sa.Column("ingest_rubric_version", sa.Text()), schema=SCHEMA)
    # Rows folded before this revision only know their latest scoring: the best guess there is.
    op.execute(
        "UPDATE feedback.lead_fact SET first_scored_at = scored_at,"
        " ingest_rubric_version = rubric_version WHERE scored_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("lead_fact", "ingest_rubric_version", schema=SCHEMA)
    op.drop_column("lead_fact", "first_scored_at", schema=SCHEMA)
