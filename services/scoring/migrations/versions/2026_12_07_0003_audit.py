"""The audit trail: who changed what, when, before and after (`shared/audit.py`); append-only.

Revision ID: scoring_0003
Revises: scoring_0002
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from shared.audit_schema import create_audit_entry_table, drop_audit_entry_table

revision: str = "scoring_0003"
down_revision: str | None = "scoring_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "scoring"


def upgrade() -> None:
    create_audit_entry_table(SCHEMA)


def downgrade() -> None:
    drop_audit_entry_table(SCHEMA)
