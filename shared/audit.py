"""The audit trail: who changed which configuration, when, and what it was before and after.

Each service keeps its own append-only `audit_entry` table (made by its migration, which also
adds a trigger refusing UPDATE and DELETE: no API and no user erases an entry). A use case calls
`record_change` in the transaction of the change, so an entry exists exactly when the change
committed. Entries describe configuration and manual actions, never leads: callers pass no
lead's personal data in `before`/`after` (a rubric's rules, an approval, a proposal's summary).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic_core import to_jsonable_python
from sqlalchemy import BigInteger, Column, DateTime, Index, MetaData, String, Table, insert, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import utc_now

AUDIT_TABLE = "audit_entry"
# The actor of a change no request made: a use case called in-process (a test, a bench, a script).
SYSTEM_ACTOR = "system"


def audit_table(metadata: MetaData) -> Table:
    return Table(
        AUDIT_TABLE,
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("actor", String(320), nullable=False),
        Column("action", String(64), nullable=False),
        Column("object_type", String(64), nullable=False),
        Column("object_id", String(255), nullable=False),
        Column("before", JSONB),
        Column("after", JSONB),
        Index("ix_audit_entry_object", "object_type", "object_id", "id"),
        Index("ix_audit_entry_actor", "actor", "id"),
    )


async def record_change(
    session: AsyncSession,
    table: Table,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """One entry, in the caller's transaction: it commits or rolls back with the change."""
    await session.execute(
        insert(table).values(
            at=utc_now(),
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            before=to_jsonable_python(before),
            after=to_jsonable_python(after),
        )
    )


class AuditEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


async def read_changes(
    session: AsyncSession,
    table: Table,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first; `before_id` pages on from the last entry of the previous page."""
    statement = select(table).order_by(table.c.id.desc()).limit(limit)
    for column, value in (("object_type", object_type), ("object_id", object_id), ("actor", actor)):
        if value is not None:
            statement = statement.where(table.c[column] == value)
    if before_id is not None:
        statement = statement.where(table.c.id < before_id)
    rows = (await session.execute(statement)).mappings().all()
    return [AuditEntry.model_validate(dict(row)) for row in rows]


def append_only_sql(schema: str) -> list[str]:
    """The statements a migration runs so the database itself refuses to alter or delete an entry."""
    return [
        f"""CREATE FUNCTION "{schema}".audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit trail is append-only: % on audit_entry refused', TG_OP; END $$""",
        f'CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON "{schema}".audit_entry '
        f'FOR EACH ROW EXECUTE FUNCTION "{schema}".audit_entry_append_only()',
    ]
