"""The audit trail: who changed what, when, before and after (`shared/audit.py`); append-only.

Revision ID: routing_0009_audit
Revises: routing_0008_commitments
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from shared.audit_schema import create_audit_entry_table, drop_audit_entry_table

revision: str = "routing_0009_audit"
down_revision: str | None = "routing_0008_commitments"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "routing"


def upgrade() -> None:
    create_audit_entry_table(SCHEMA)


def downgrade() -> None:
    drop_audit_entry_table(SCHEMA)
