"""Scoring's SQL for what it knows about each lead: the merged profile and the activities.

Kept apart from `repository.py` by size; the consumer's batch path runs on these statements,
so they are written as single statement texts over arrays (`shared.bulk`), run on the driver
(`driver.fetch`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ARRAY, Table, any_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import conditions
from services.scoring.models import LeadActivity, LeadProfile
from shared import session_driver as driver
from shared.bulk import as_arrays, unnest_insert

# Profile fields where the latest non-null value wins: the ones rubrics may name, but for
# `email_domain`, which is derived from the email.
PROFILE_FIELDS = tuple(sorted(conditions.PROFILE_FIELDS - {"email_domain"}))

_MERGED_COLUMNS = ("lead_id", *PROFILE_FIELDS, "utm", "attributes", "observed_at", "created_at", "updated_at")
_ACTIVITY_COLUMNS = ("lead_id", "event_id", "type", "occurred_at", "properties")


class ProfileRecord(NamedTuple):
    """A profile as a merge left it: what scoring evaluates and what `lead.qualified` carries."""

    lead_id: uuid.UUID
    email: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    job_title: str | None
    phone: str | None
    country: str | None
    company_size: int | None
    industry: str | None
    source: str | None
    consent: bool | None
    utm: dict[str, str]
    attributes: dict[str, str]
    qualified_at: datetime | None
    returned_to_nurture_at: datetime | None


class ActivityRecord(NamedTuple):
    lead_id: uuid.UUID
    type: str
    occurred_at: datetime
    properties: dict[str, str]


def _merge_sql() -> str:
    """The profile upsert: each field keeps the value of the latest observation that had one;
    an older observation processed late only fills the fields newer ones left empty."""
    newer = "excluded.observed_at >= t.observed_at"
    latest = [
        f"{name} = CASE WHEN {newer} THEN coalesce(excluded.{name}, t.{name}) "
        f"ELSE coalesce(t.{name}, excluded.{name}) END"
        for name in PROFILE_FIELDS
    ]
    merged = [
        f"attributes = CASE WHEN {newer} THEN t.attributes || excluded.attributes "
        "ELSE excluded.attributes || t.attributes END",
        # The UTM tags are one touch: the latest submission that had any replaces them whole, so
        # no tag of one touch lands on top of another's (issue 14).
        "utm = CASE WHEN excluded.utm = '{}'::jsonb THEN t.utm "
        f"WHEN t.utm = '{{}}'::jsonb OR {newer} THEN excluded.utm ELSE t.utm END",
    ]
    returned = ", ".join(f"t.{name}" for name in ProfileRecord._fields)
    return (
        unnest_insert(cast(Table, LeadProfile.__table__), _MERGED_COLUMNS)
        + " ON CONFLICT (lead_id) DO UPDATE SET "
        + ", ".join(
            [
                *latest,
                *merged,
                "observed_at = greatest(t.observed_at, excluded.observed_at)",
                "updated_at = excluded.updated_at",
            ]
        )
        + f" RETURNING {returned}"
    )


_MERGE_SQL = _merge_sql()


def _add_with_histories_sql() -> str:
    """The insert of `add_many_once` with, in the same statement, the history of every lead it
    added to: its rows above the id given in `:known`/`:since` (all of them for a lead not
    given). The outer SELECT reads the table as it was before the statement (PostgreSQL runs a
    WITH's insert on the same snapshot), so the new rows come from the insert's RETURNING."""
    table = cast(Table, LeadActivity.__table__)
    insert = unnest_insert(table, _ACTIVITY_COLUMNS)
    return (
        f"WITH new AS ({insert} ON CONFLICT (event_id) DO NOTHING "
        "RETURNING t.id, t.lead_id, t.event_id, t.type, t.occurred_at, t.properties), "
        "known AS (SELECT * FROM unnest(CAST(:known AS uuid[]), CAST(:since AS bigint[])) AS k(lead_id, since)) "
        "SELECT a.lead_id, a.type, a.occurred_at, a.properties, NULL::uuid AS new_event_id, a.id "
        f"FROM {table.schema}.{table.name} AS a LEFT JOIN known AS k ON k.lead_id = a.lead_id "
        "WHERE a.lead_id IN (SELECT lead_id FROM new) AND a.id > coalesce(k.since, 0) "
        "UNION ALL SELECT lead_id, type, occurred_at, properties, event_id, id FROM new "
        "ORDER BY 1, 3, 6"
    )


_ADD_WITH_HISTORIES_SQL = _add_with_histories_sql()


class ProfileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def erase_personal_data(self, lead_id: uuid.UUID) -> None:
        """Blank who the lead is; keep what scoring counts (firmographics, scores, stages)."""
        await self.session.execute(
            update(LeadProfile)
            .where(LeadProfile.lead_id == lead_id)
            .values(email="", first_name=None, last_name=None, phone=None, attributes={})
            .execution_options(synchronize_session=False)
        )

    async def get(self, lead_id: uuid.UUID) -> LeadProfile | None:
        return await self.session.get(LeadProfile, lead_id)

    async def merge(
        self, lead_id: uuid.UUID, *, observed_at: datetime, now: datetime, fields: dict[str, Any]
    ) -> ProfileRecord:
        """Upsert the profile: each field keeps the value of the latest observation that had one.

        Comparing `observed_at` makes the merge order-free: an older event processed late
        only fills fields the newer ones left empty.
        """
        return (await self.merge_many([(lead_id, observed_at, fields)], now=now))[lead_id]

    async def merge_many(
        self, observations: Sequence[tuple[uuid.UUID, datetime, dict[str, Any]]], *, now: datetime
    ) -> dict[uuid.UUID, ProfileRecord]:
        """`merge` for several leads in one statement; each lead appears at most once. Returns
        each profile as merged (locked until the transaction ends)."""
        table = cast(Table, LeadProfile.__table__)
        rows = (
            (
                lead_id,
                *[fields.get(name) for name in PROFILE_FIELDS],
                fields.get("utm") or {},
                fields.get("attributes") or {},
                observed_at,
                now,
                now,
            )
            for lead_id, observed_at, fields in observations
        )
        result = await driver.fetch(self.session, _MERGE_SQL, as_arrays(table, _MERGED_COLUMNS, rows))
        return {row[0]: ProfileRecord._make(row) for row in result}

    async def page(self, *, after: uuid.UUID | None, limit: int) -> Sequence[LeadProfile]:
        """Profiles in lead-id order, `limit` at a time, starting after `after`."""
        statement = select(LeadProfile).order_by(LeadProfile.lead_id).limit(limit)
        if after is not None:
            statement = statement.where(LeadProfile.lead_id > after)
        return (await self.session.scalars(statement)).all()

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(LeadProfile)) or 0)

    async def mark_qualified(
        self, lead_id: uuid.UUID, *, at: datetime, reason: str, rubric_version: str
    ) -> bool:
        """Record the first qualification; False when the lead had already qualified."""
        statement = (
            update(LeadProfile)
            .where(LeadProfile.lead_id == lead_id, LeadProfile.qualified_at.is_(None))
            .values(
                qualified_at=at,
                qualification_reason=reason,
                qualified_rubric_version=rubric_version,
                qualification_round=1,
            )
            .returning(LeadProfile.lead_id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def return_to_nurture(self, lead_id: uuid.UUID, *, at: datetime, reason: str) -> None:
        """Sales handed the lead back: it waits in nurture, with the reason, for its cool-down."""
        await self.session.execute(
            update(LeadProfile)
            .where(LeadProfile.lead_id == lead_id, LeadProfile.qualified_at.is_not(None))
            .values(returned_to_nurture_at=at, nurture_reason=reason)
            .execution_options(synchronize_session=False)
        )

    async def mark_requalified(
        self, lead_id: uuid.UUID, *, at: datetime, reason: str, rubric_version: str, cooled_down_by: datetime
    ) -> int | None:
        """Qualify a lead again that came back from nurture at or before `cooled_down_by`;
        returns its qualification round, or None when it is not waiting in nurture that long."""
        statement = (
            update(LeadProfile)
            .where(
                LeadProfile.lead_id == lead_id,
                LeadProfile.returned_to_nurture_at.is_not(None),
                LeadProfile.returned_to_nurture_at <= cooled_down_by,
            )
            .values(
                requalified_at=at,
                qualification_reason=reason,
                qualified_rubric_version=rubric_version,
                returned_to_nurture_at=None,
                qualification_round=func.greatest(LeadProfile.qualification_round, 1) + 1,
            )
            .returning(LeadProfile.qualification_round)
            .execution_options(synchronize_session=False)
        )
        round_: int | None = (await self.session.execute(statement)).scalar_one_or_none()
        return round_


class ActivityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_once(
        self,
        *,
        lead_id: uuid.UUID,
        event_id: uuid.UUID,
        type: str,
        occurred_at: datetime,
        properties: dict[str, str],
    ) -> bool:
        """Record the activity; False when this event's activity is already recorded."""
        row = {
            "lead_id": lead_id,
            "event_id": event_id,
            "type": type,
            "occurred_at": occurred_at,
            "properties": properties,
        }
        return bool(await self.add_many_once([row]))

    async def add_many_once(self, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
        """Record activities in one statement; returns the event ids not recorded before."""
        table = cast(Table, LeadActivity.__table__)
        values = ((r["lead_id"], r["event_id"], r["type"], r["occurred_at"], r["properties"]) for r in rows)
        statement = text(
            unnest_insert(table, _ACTIVITY_COLUMNS) + " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        )
        return set(
            (await self.session.execute(statement, as_arrays(table, _ACTIVITY_COLUMNS, values))).scalars()
        )

    async def add_many_with_histories(
        self, rows: Sequence[dict[str, Any]], *, known: Mapping[uuid.UUID, int] | None = None
    ) -> tuple[set[uuid.UUID], Sequence[ActivityRecord], dict[uuid.UUID, int]]:
        """`add_many_once`, and `for_leads` of the leads that got a new activity, in one round
        trip: the event ids not recorded before; those leads' activities (the new ones
        included), per lead in time order, but for the leads in `known` only their rows above
        the id given there; and the id of each of those leads' latest row read."""
        table = cast(Table, LeadActivity.__table__)
        values = ((r["lead_id"], r["event_id"], r["type"], r["occurred_at"], r["properties"]) for r in rows)
        parameters = as_arrays(table, _ACTIVITY_COLUMNS, values)
        known = known or {}
        result = await driver.fetch(
            self.session,
            _ADD_WITH_HISTORIES_SQL,
            {**parameters, "known": list(known), "since": list(known.values())},
        )
        recorded: set[uuid.UUID] = set()
        history: list[ActivityRecord] = []
        last_ids: dict[uuid.UUID, int] = {}
        for lead_id, type_, occurred_at, properties, new_event_id, row_id in result:
            if new_event_id is not None:
                recorded.add(new_event_id)
            history.append(ActivityRecord(lead_id, type_, occurred_at, properties))
            if row_id > last_ids.get(lead_id, 0):
                last_ids[lead_id] = row_id
        return recorded, history, last_ids

    async def for_lead(self, lead_id: uuid.UUID, *, until: datetime) -> Sequence[ActivityRecord]:
        statement = (
            select(LeadActivity.lead_id, LeadActivity.type, LeadActivity.occurred_at, LeadActivity.properties)
            .where(LeadActivity.lead_id == lead_id, LeadActivity.occurred_at <= until)
            .order_by(LeadActivity.occurred_at, LeadActivity.id)
        )
        return [ActivityRecord._make(row) for row in await self.session.execute(statement)]

    async def latest_submission_at(self, lead_id: uuid.UUID) -> datetime | None:
        """When the lead's latest form submission happened."""
        statement = select(func.max(LeadActivity.occurred_at)).where(
            LeadActivity.lead_id == lead_id, LeadActivity.type == "form_submission"
        )
        latest: datetime | None = (await self.session.execute(statement)).scalar_one()
        return latest

    async def for_leads(self, lead_ids: Sequence[uuid.UUID]) -> Sequence[ActivityRecord]:
        """Every activity of `lead_ids`, per lead in time order, as plain rows (no ORM objects:
        a consumer batch reads thousands)."""
        statement = (
            select(LeadActivity.lead_id, LeadActivity.type, LeadActivity.occurred_at, LeadActivity.properties)
            # `= ANY(array)`: one prepared statement for any number of leads (an IN list is
            # a new statement for every length, evicting the hot ones from the driver's cache).
            .where(
                LeadActivity.lead_id == any_(bindparam("lead_ids", lead_ids, type_=ARRAY(UUID(as_uuid=True))))
            )
            .order_by(LeadActivity.lead_id, LeadActivity.occurred_at, LeadActivity.id)
        )
        return [ActivityRecord._make(row) for row in await self.session.execute(statement)]
