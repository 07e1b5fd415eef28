"""Lead match keys; configured forms (seeded with the walkthrough's), activity sources, visitors, activities.

Revision ID: ingest_0002
Revises: ingest_0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "ingest_0002"
down_revision: str | None = "ingest_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "ingest"

# The forms the README walkthrough and the bench post to, so a fresh install accepts them.
SEEDED_FORMS = (
    ("demo-request", "Demo request", True),
    ("contact-sales", "Contact sales", True),
    ("newsletter", "Newsletter sign-up", False),
)


def upgrade() -> None:
    op.add_column("lead", sa.Column("erased_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    # Leads were keyed by the exact email; the match key starts as that and is unique the same way.
    op.add_column("lead", sa.Column("match_key", sa.String(320)), schema=SCHEMA)
    op.execute(f"UPDATE {SCHEMA}.lead SET match_key = email")
    op.alter_column("lead", "match_key", nullable=False, schema=SCHEMA)
    op.create_unique_constraint("uq_lead_match_key", "lead", ["match_key"], schema=SCHEMA)
    op.add_column(
        "submission",
        sa.Column("source", sa.String(50), nullable=False, server_default="form"),
        schema=SCHEMA,
    )
    form = op.create_table(
        "form",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("field_map", pg.JSONB(), nullable=False),
        sa.Column("utm_fields", pg.JSONB(), nullable=False),
        sa.Column("is_hand_raiser", sa.Boolean(), nullable=False),
        sa.Column("allowed_origins", pg.JSONB(), nullable=False),
        sa.Column("honeypot_field", sa.String(100)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_form"),
        schema=SCHEMA,
    )
    op.create_table(
        "source",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_source"),
        sa.UniqueConstraint("key_hash", name="uq_source_key_hash"),
        schema=SCHEMA,
    )
    op.create_table(
        "visitor",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("lead_id", pg.UUID(as_uuid=True)),
        sa.Column("decision", sa.String(32)),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_visitor"),
        sa.ForeignKeyConstraint(["lead_id"], [f"{SCHEMA}.lead.id"], name="fk_visitor_lead_id_lead"),
        schema=SCHEMA,
    )
    op.create_index("ix_visitor_lead_id", "visitor", ["lead_id"], schema=SCHEMA)
    op.create_table(
        "activity",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(100), nullable=False),
        sa.Column("visitor_id", sa.String(200)),
        sa.Column("lead_id", pg.UUID(as_uuid=True)),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("properties", pg.JSONB(), nullable=False),
        sa.Column("event_id", pg.UUID(as_uuid=True)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_activity"),
        sa.ForeignKeyConstraint(["lead_id"], [f"{SCHEMA}.lead.id"], name="fk_activity_lead_id_lead"),
        sa.UniqueConstraint("event_id", name="uq_activity_event_id"),
        schema=SCHEMA,
    )
    op.create_index("ix_activity_lead_id", "activity", ["lead_id"], schema=SCHEMA)
    op.create_index(
        "ix_activity_visitor_id_unpublished", "activity", ["visitor_id", "event_id"], schema=SCHEMA
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        form,
        [
            {
                "id": form_id,
                "name": name,
                "field_map": {},
                "utm_fields": {},
                "is_hand_raiser": hand_raiser,
                "allowed_origins": [],
                "honeypot_field": "_gotcha",
                "created_at": now,
                "updated_at": now,
            }
            for form_id, name, hand_raiser in SEEDED_FORMS
        ],
    )


def downgrade() -> None:
    op.drop_table("activity", schema=SCHEMA)
    op.drop_table("visitor", schema=SCHEMA)
    op.drop_table("source", schema=SCHEMA)
    op.drop_table("form", schema=SCHEMA)
    op.drop_column("submission", "source", schema=SCHEMA)
    op.drop_column("lead", "match_key", schema=SCHEMA)
    op.drop_column("lead", "erased_at", schema=SCHEMA)
