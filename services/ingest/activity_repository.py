"""Ingest's SQL for visitors and their activities (the rest is in `repository.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic_core import to_json
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.models import Activity, Visitor, outbox
from shared.contracts import Envelope, new_event_id
from shared.outbox import announce, insert_sql, outbox_columns, remember
from shared.session_driver import fetch

# The select sees the table as it was before the insert: a visitor new to this batch is anonymous.
_VISITORS = text(
    "WITH new AS (INSERT INTO ingest.visitor (id, first_seen_at) SELECT v, :at "
    "FROM unnest(CAST(:ids AS varchar[])) AS u(v) ON CONFLICT (id) DO NOTHING) "
    "SELECT id, lead_id FROM ingest.visitor WHERE id = ANY(CAST(:ids AS varchar[]))"
)
_ACTIVITIES = (
    "WITH stored AS (INSERT INTO ingest.activity (source_id, visitor_id, lead_id, type, occurred_at, "
    "properties, event_id, received_at) SELECT :source_id, v, l, t, o, CAST(p AS jsonb), e, :received_at "
    "FROM unnest(CAST(:visitor_ids AS varchar[]), CAST(:lead_ids AS uuid[]), CAST(:types AS varchar[]), "
    "CAST(:occurred_at AS timestamptz[]), CAST(:properties AS text[]), CAST(:event_ids AS uuid[])) "
    "AS u(v, l, t, o, p, e)) "
)
_ACTIVITIES_AND_EVENTS = _ACTIVITIES + insert_sql(outbox, returning=True)


@dataclass
class ActivityRows:
    """A batch of activities as columns (what `unnest` takes), in the batch's order."""

    visitor_ids: list[str | None] = field(default_factory=list)
    lead_ids: list[uuid.UUID | None] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    occurred_at: list[datetime] = field(default_factory=list)
    properties: list[str] = field(default_factory=list)
    event_ids: list[uuid.UUID | None] = field(default_factory=list)

    def append(
        self,
        *,
        visitor_id: str | None,
        lead_id: uuid.UUID | None,
        kind: str,
        occurred_at: datetime,
        properties: dict[str, str],
        event_id: uuid.UUID | None,
    ) -> None:
        self.visitor_ids.append(visitor_id)
        self.lead_ids.append(lead_id)
        self.types.append(kind)
        self.occurred_at.append(occurred_at)
        # jsonb keeps no formatting: pydantic's serializer is five times faster than `json`'s.
        self.properties.append(to_json(properties).decode())
        self.event_ids.append(event_id)


class VisitorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def leads_of(self, visitor_ids: Sequence[str], *, seen_at: datetime) -> dict[str, uuid.UUID | None]:
        """The lead behind each visitor (None while anonymous), recording new visitors."""
        if not visitor_ids:
            return {}
        found = await self.session.execute(_VISITORS, {"ids": sorted(visitor_ids), "at": seen_at})
        leads: dict[str, uuid.UUID | None] = dict.fromkeys(visitor_ids)
        leads.update({row[0]: row[1] for row in found})
        return leads

    async def link(self, visitor_id: str, lead_id: uuid.UUID, *, decision: str, at: datetime) -> uuid.UUID:
        """Link an unlinked visitor to the lead; returns the lead it is linked to (a visitor
        already linked to someone else keeps that link: a shared computer must not merge people)."""
        statement = (
            insert(Visitor)
            .values(id=visitor_id, lead_id=lead_id, decision=decision, first_seen_at=at, linked_at=at)
            .on_conflict_do_update(
                index_elements=[Visitor.id],
                set_={"lead_id": lead_id, "decision": decision, "linked_at": at},
                where=Visitor.lead_id.is_(None),
            )
        )
        await self.session.execute(statement)
        linked: uuid.UUID | None = (
            await self.session.execute(select(Visitor.lead_id).where(Visitor.id == visitor_id))
        ).scalar_one()
        assert linked is not None
        return linked

    async def unlink_lead(self, lead_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Visitor)
            .where(Visitor.lead_id == lead_id)
            .values(lead_id=None, decision=None, linked_at=None)
            .execution_options(synchronize_session=False)
        )


class ActivityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(
        self, rows: ActivityRows, *, source_id: str, received_at: datetime, events: Sequence[Envelope]
    ) -> None:
        """Store a batch's activities and stage its events: one statement, whatever the size, on
        the driver's connection (`driver.fetch`). The staged rows go to this process's relay, to
        publish from memory after the commit instead of reading them back."""
        if not rows.types:
            return
        columns = outbox_columns(events)
        params = {
            "source_id": source_id,
            "received_at": received_at,
            "visitor_ids": rows.visitor_ids,
            "lead_ids": rows.lead_ids,
            "types": rows.types,
            "occurred_at": rows.occurred_at,
            "properties": rows.properties,
            "event_ids": rows.event_ids,
            **columns,
        }
        # The outbox part inserts nothing when no event is staged (empty arrays).
        staged = await fetch(self.session, _ACTIVITIES_AND_EVENTS, params)
        if staged:
            remember(self.session, outbox, columns, [(row[0], row[1]) for row in staged])
            await announce(self.session, outbox, remembered=True)

    async def claim_anonymous(self, visitor_id: str, lead_id: uuid.UUID) -> Sequence[Activity]:
        """Attribute the visitor's anonymous activities to the lead (locked, so a concurrent
        stitch of the same visitor cannot publish them twice), oldest first."""
        statement = (
            select(Activity)
            .where(Activity.visitor_id == visitor_id, Activity.event_id.is_(None))
            .order_by(Activity.occurred_at, Activity.id)
            .with_for_update(skip_locked=True)
        )
        rows = (await self.session.scalars(statement)).all()
        for row in rows:
            row.lead_id = lead_id
            row.event_id = new_event_id()
        await self.session.flush()
        return rows

    async def forget_for_lead(self, lead_id: uuid.UUID) -> None:
        """Erasure: keep the activity (anonymous counts), drop its link to the person."""
        await self.session.execute(
            update(Activity)
            .where(Activity.lead_id == lead_id)
            .values(visitor_id=None, properties={})
            .execution_options(synchronize_session=False)
        )
