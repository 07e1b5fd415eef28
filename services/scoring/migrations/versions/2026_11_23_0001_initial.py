"""Scoring's first schema: the outbox and the processed-event table.

Revision ID: scoring_0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from shared.migrations import create_messaging_tables

revision: str = "scoring_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "scoring"


def upgrade() -> None:
    create_messaging_tables(SCHEMA, consumer=True)


def downgrade() -> None:
    pass
