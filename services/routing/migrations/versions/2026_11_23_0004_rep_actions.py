"""Reps' actions: dispositions get a reason code, the rep's own note and a currency; assignments
may be recycled to nurture, or wait in the fallback queue after their rep handed them back.

Revision ID: routing_0004_rep_actions
Revises: routing_0003_sla
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "routing_0004_rep_actions"
down_revision: str | None = "routing_0003_sla"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "routing"

OLD_STATUSES = "status IN ('open', 'accepted', 'rejected', 'sql', 'won', 'lost')"
NEW_STATUSES = "status IN ('open', 'accepted', 'rejected', 'sql', 'won', 'lost', 'recycled', 'queued')"


def upgrade() -> None:
    op.add_column("disposition", sa.Column("reason_code", sa.String(32)), schema=SCHEMA)
    op.add_column("disposition", sa.Column("note", sa.Text()), schema=SCHEMA)
    op.add_column("disposition", sa.Column("currency", sa.String(3)), schema=SCHEMA)
    _drop_status_check()
    op.create_check_constraint(op.f("ck_assignment_status_known"), "assignment", NEW_STATUSES, schema=SCHEMA)


def downgrade() -> None:
    _drop_status_check()
    op.create_check_constraint(op.f("ck_assignment_status_known"), "assignment", OLD_STATUSES, schema=SCHEMA)
    op.drop_column("disposition", "currency", schema=SCHEMA)
    op.drop_column("disposition", "note", schema=SCHEMA)
    op.drop_column("disposition", "reason_code", schema=SCHEMA)


def _drop_status_check() -> None:
    # The first migration's name went through the naming convention twice (see routing_0003);
    # op.f() keeps the new one as written.
    op.execute(
        f"ALTER TABLE {SCHEMA}.assignment"
        " DROP CONSTRAINT IF EXISTS ck_assignment_ck_assignment_status_known,"
        " DROP CONSTRAINT IF EXISTS ck_assignment_status_known"
    )
