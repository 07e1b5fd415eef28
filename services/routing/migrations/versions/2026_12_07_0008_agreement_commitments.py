"""Sales' commitments from the signed agreement: the active agreement's terms as routing learned
them from `rubric.activated`, each assignment's first real contact and attempts, and the
`contact` SLA timer kind.

Revision ID: routing_0008_commitments
Revises: routing_0007_lead_brief
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "routing_0008_commitments"
down_revision: str | None = "routing_0007_lead_brief"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "routing"


def upgrade() -> None:
    op.create_table(
        "agreement",
        sa.Column("rubric_version", sa.String(64), nullable=False),
        sa.Column("terms", pg.JSONB(), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rubric_version", name=op.f("pk_agreement")),
        schema=SCHEMA,
    )
    op.add_column("assignment", sa.Column("first_contact_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column(
        "assignment",
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        schema=SCHEMA,
    )
    op.add_column("assignment", sa.Column("contact_breached_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.drop_constraint(op.f("ck_sla_timer_kind_known"), "sla_timer", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_sla_timer_kind_known"),
        "sla_timer",
        "kind IN ('reminder', 'breach', 'contact')",
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.execute(f"DELETE FROM {SCHEMA}.sla_timer WHERE kind = 'contact'")
    op.drop_constraint(op.f("ck_sla_timer_kind_known"), "sla_timer", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_sla_timer_kind_known"), "sla_timer", "kind IN ('reminder', 'breach')", schema=SCHEMA
    )
    op.drop_column("assignment", "contact_breached_at", schema=SCHEMA)
    op.drop_column("assignment", "attempts", schema=SCHEMA)
    op.drop_column("assignment", "first_contact_at", schema=SCHEMA)
    op.drop_table("agreement", schema=SCHEMA)
