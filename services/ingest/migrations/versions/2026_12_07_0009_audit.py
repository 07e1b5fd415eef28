"""The audit trail: who changed what, when, before and after (`shared/audit.py`); append-only.

Revision ID: ingest_0009_audit
Revises: ingest_0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from shared.audit_schema import create_audit_entry_table, drop_audit_entry_table

revision: str = "ingest_0009_audit"
down_revision: str | None = "ingest_0008"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "ingest"


def upgrade() -> None:
    create_audit_entry_table(SCHEMA)


def downgrade() -> None:
    drop_audit_entry_table(SCHEMA)
