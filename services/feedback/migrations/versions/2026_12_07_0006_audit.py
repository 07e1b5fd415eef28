"""The audit trail: who changed what, when, before and after (`shared/audit.py`); append-only.

Revision ID: feedback_0006
Revises: feedback_0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from shared.audit_schema import create_audit_entry_table, drop_audit_entry_table

revision: str = "feedback_0006"
down_revision: str | None = "feedback_0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "feedback"


def upgrade() -> None:
    create_audit_entry_table(SCHEMA)


def downgrade() -> None:
    drop_audit_entry_table(SCHEMA)
