"""The `audit_entry` table as each service's migration creates it (`shared/audit.py` reads it).

Four services keep the same append-only trail, so their migrations share this one definition.
It describes the table as first released: a later change to the trail is a new function called
by a new migration, never an edit here, or replaying old migrations would build another table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from shared.audit import append_only_sql


def create_audit_entry_table(schema: str) -> None:
    """The trail's table, its two lookup indexes and the trigger that refuses UPDATE and DELETE."""
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("object_id", sa.String(255), nullable=False),
        sa.Column("before", pg.JSONB()),
        sa.Column("after", pg.JSONB()),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entry"),
        schema=schema,
    )
    op.create_index("ix_audit_entry_object", "audit_entry", ["object_type", "object_id", "id"], schema=schema)
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor", "id"], schema=schema)
    for statement in append_only_sql(schema):
        op.execute(statement)


def drop_audit_entry_table(schema: str) -> None:
    op.drop_table("audit_entry", schema=schema)
    op.execute(f'DROP FUNCTION "{schema}".audit_entry_append_only()')
