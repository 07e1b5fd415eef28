"""The rest of sales' commitments: the `accept` timer (and its reminder) of the agreement's
time to accept or reject, and each assignment's first attempt, from which the attempt window
of business days runs.

Revision ID: routing_0010_accept
Revises: routing_0009_audit
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "routing_0010_accept"
down_revision: str | None = "routing_0009_audit"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "routing"


def upgrade() -> None:
    op.add_column("assignment", sa.Column("first_attempt_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    # The attempts of the lead's current round: a re-MQL's round starts at its qualification.
    op.execute(
        f"UPDATE {SCHEMA}.assignment AS a SET first_attempt_at = ("
        f"SELECT min(t.touched_at) FROM {SCHEMA}.touch AS t "
        "WHERE t.assignment_id = a.id AND t.touched_at >= a.qualified_at) WHERE a.attempts > 0"
    )
    _kinds("'reminder', 'breach', 'contact', 'accept', 'accept_reminder'")


def downgrade() -> None:
    op.execute(f"DELETE FROM {SCHEMA}.sla_timer WHERE kind IN ('accept', 'accept_reminder')")
    _kinds("'reminder', 'breach', 'contact'")
    op.drop_column("assignment", "first_attempt_at", schema=SCHEMA)


def _kinds(known: str) -> None:
    op.drop_constraint(op.f("ck_sla_timer_kind_known"), "sla_timer", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_sla_timer_kind_known"), "sla_timer", f"kind IN ({known})", schema=SCHEMA
    )
