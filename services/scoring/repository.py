"""All of scoring's SQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ARRAY, Table, any_, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.models import (
    Disposition,
    LeadActivity,
    LeadProfile,
    RescoreRun,
    RubricApproval,
    RubricRecord,
    Score,
    ShadowScore,
)
from shared.bulk import as_arrays, unnest_insert

# Profile fields where the latest non-null value wins.
PROFILE_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "country",
    "company_size",
    "industry",
    "source",
    "consent",
)

_MERGED_COLUMNS = ("lead_id", *PROFILE_FIELDS, "utm", "attributes", "observed_at", "created_at", "updated_at")
_ACTIVITY_COLUMNS = ("lead_id", "event_id", "type", "occurred_at", "properties")
_SCORE_COLUMNS = (
    "lead_id",
    "event_id",
    "rubric_version",
    "score",
    "fit_score",
    "engagement_score",
    "grade",
    "is_mql",
    "fired_rules",
    "scored_at",
    "created_at",
)


class ProfileRecord(NamedTuple):
    """A profile as a merge left it: what scoring evaluates and what `lead.qualified` carries."""

    lead_id: uuid.UUID
    email: str
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
        f"{name} = CASE WHEN {newer} THEN t.{name} || excluded.{name} ELSE excluded.{name} || t.{name} END"
        for name in ("utm", "attributes")
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
        result = await self.session.execute(text(_MERGE_SQL), as_arrays(table, _MERGED_COLUMNS, rows))
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
            .values(qualified_at=at, qualification_reason=reason, qualified_rubric_version=rubric_version)
            .returning(LeadProfile.lead_id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def mark_qualified_many(self, qualifications: Sequence[dict[str, Any]]) -> None:
        """Record first qualifications (`lead_id`, `at`, `reason`, `rubric_version` each) for
        leads the caller holds locked and knows unqualified."""
        if not qualifications:
            return
        table = cast(Table, LeadProfile.__table__)
        statement = (
            update(table)
            .where(table.c.lead_id == bindparam("q_lead_id"), table.c.qualified_at.is_(None))
            .values(
                qualified_at=bindparam("q_at"),
                qualification_reason=bindparam("q_reason"),
                qualified_rubric_version=bindparam("q_rubric_version"),
            )
        )
        await self.session.execute(statement, [{f"q_{k}": v for k, v in q.items()} for q in qualifications])


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

    async def for_lead(self, lead_id: uuid.UUID, *, until: datetime) -> Sequence[ActivityRecord]:
        statement = (
            select(LeadActivity.lead_id, LeadActivity.type, LeadActivity.occurred_at, LeadActivity.properties)
            .where(LeadActivity.lead_id == lead_id, LeadActivity.occurred_at <= until)
            .order_by(LeadActivity.occurred_at, LeadActivity.id)
        )
        return [ActivityRecord._make(row) for row in await self.session.execute(statement)]

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


class ScoreRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert score rows (see `records.score_row`) in one statement."""
        table = cast(Table, Score.__table__)
        values = ([row[name] for name in _SCORE_COLUMNS] for row in rows)
        await self.session.execute(
            text(unnest_insert(table, _SCORE_COLUMNS)), as_arrays(table, _SCORE_COLUMNS, values)
        )

    async def latest(self, lead_id: uuid.UUID) -> Score | None:
        statement = select(Score).where(Score.lead_id == lead_id).order_by(Score.id.desc()).limit(1)
        return (await self.session.scalars(statement)).first()

    async def latest_for_leads(self, lead_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Score]:
        newest = select(func.max(Score.id)).where(Score.lead_id.in_(lead_ids)).group_by(Score.lead_id)
        statement = select(Score).where(Score.id.in_(newest))
        return {s.lead_id: s for s in (await self.session.scalars(statement)).all()}

    async def history(self, lead_id: uuid.UUID, *, limit: int) -> Sequence[Score]:
        """The most recent `limit` scores, oldest first."""
        recent = select(Score).where(Score.lead_id == lead_id).order_by(Score.id.desc()).limit(limit)
        return sorted((await self.session.scalars(recent)).all(), key=lambda s: s.id)


class DispositionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_once(
        self, *, lead_id: uuid.UUID, event_id: uuid.UUID, outcome: str, dispositioned_at: datetime
    ) -> None:
        statement = (
            insert(Disposition)
            .values(lead_id=lead_id, event_id=event_id, outcome=outcome, dispositioned_at=dispositioned_at)
            .on_conflict_do_nothing(index_elements=[Disposition.event_id])
        )
        await self.session.execute(statement)

    async def outcomes_for(self, lead_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
        statement = select(Disposition.lead_id, Disposition.outcome).where(Disposition.lead_id.in_(lead_ids))
        outcomes: dict[uuid.UUID, set[str]] = {}
        for lead_id, outcome in (await self.session.execute(statement)).all():
            outcomes.setdefault(lead_id, set()).add(outcome)
        return outcomes


class RubricRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, version: str, *, for_update: bool = False) -> RubricRecord | None:
        return await self.session.get(RubricRecord, version, with_for_update=for_update)

    async def active_stamp(self) -> tuple[str, datetime] | None:
        """(version, updated_at) of the active rubric, if one was activated."""
        statement = select(RubricRecord.version, RubricRecord.updated_at).where(
            RubricRecord.status == "active"
        )
        row = (await self.session.execute(statement)).one_or_none()
        return None if row is None else (row.version, row.updated_at)

    async def all(self) -> Sequence[RubricRecord]:
        return (await self.session.scalars(select(RubricRecord).order_by(RubricRecord.created_at))).all()

    async def add(self, record: RubricRecord) -> None:
        self.session.add(record)
        await self.session.flush()

    async def shadow_stamps(self) -> list[tuple[str, datetime]]:
        statement = select(RubricRecord.version, RubricRecord.updated_at).where(
            RubricRecord.status == "draft", RubricRecord.shadow.is_(True)
        )
        return [(row.version, row.updated_at) for row in (await self.session.execute(statement)).all()]

    async def approvals(self, versions: Sequence[str]) -> dict[str, list[RubricApproval]]:
        statement = (
            select(RubricApproval)
            .where(RubricApproval.version.in_(versions))
            .order_by(RubricApproval.approved_at)
        )
        found: dict[str, list[RubricApproval]] = {v: [] for v in versions}
        for approval in (await self.session.scalars(statement)).all():
            found[approval.version].append(approval)
        return found

    async def approve(self, version: str, *, team: str, approver: str, at: datetime) -> None:
        statement = (
            insert(RubricApproval)
            .values(version=version, team=team, approver=approver, approved_at=at)
            .on_conflict_do_update(
                index_elements=[RubricApproval.version, RubricApproval.team],
                set_={"approver": approver, "approved_at": at},
            )
        )
        await self.session.execute(statement)

    async def clear_approvals(self, version: str) -> None:
        await self.session.execute(delete(RubricApproval).where(RubricApproval.version == version))

    async def retire_active(self, *, at: datetime) -> None:
        await self.session.execute(
            update(RubricRecord)
            .where(RubricRecord.status == "active")
            .values(status="retired", updated_at=at)
            .execution_options(synchronize_session=False)
        )
        await self.session.flush()


class RescoreRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, run: RescoreRun) -> None:
        self.session.add(run)
        await self.session.flush()

    async def add_if_idle(self, **values: Any) -> bool:
        """Start a run unless one is running (the partial unique index arbitrates replicas)."""
        statement = (
            insert(RescoreRun)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=[RescoreRun.status], index_where=RescoreRun.status == "running"
            )
            .returning(RescoreRun.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def last_started(self, *, reason: str) -> datetime | None:
        statement = select(func.max(RescoreRun.started_at)).where(RescoreRun.reason == reason)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def latest_for(self, version: str) -> RescoreRun | None:
        statement = (
            select(RescoreRun)
            .where(RescoreRun.rubric_version == version)
            .order_by(RescoreRun.started_at.desc())
            .limit(1)
        )
        return (await self.session.scalars(statement)).first()

    async def claim_running(self) -> RescoreRun | None:
        """A running run no other replica holds, locked until the caller's transaction ends."""
        statement = (
            select(RescoreRun)
            .where(RescoreRun.status == "running")
            .order_by(RescoreRun.started_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.scalars(statement)).first()

    async def supersede_running(self, *, at: datetime) -> None:
        await self.session.execute(
            update(RescoreRun)
            .where(RescoreRun.status == "running")
            .values(status="superseded", finished_at=at)
            .execution_options(synchronize_session=False)
        )


class ShadowScoreRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, **values: Any) -> None:
        await self.session.execute(insert(ShadowScore).values(**values).on_conflict_do_nothing())

    async def summary(self, version: str) -> tuple[int, int, int, int]:
        """(leads scored, would-be MQLs, leads qualified for real, both) for one shadowing draft."""
        per_lead = (
            select(ShadowScore.lead_id, func.bool_or(ShadowScore.is_mql).label("would_qualify"))
            .where(ShadowScore.rubric_version == version)
            .group_by(ShadowScore.lead_id)
            .subquery()
        )
        qualified = LeadProfile.qualified_at.is_not(None)
        statement = select(
            func.count(),
            func.count().filter(per_lead.c.would_qualify),
            func.count().filter(qualified),
            func.count().filter(per_lead.c.would_qualify, qualified),
        ).select_from(per_lead.join(LeadProfile, LeadProfile.lead_id == per_lead.c.lead_id))
        row = (await self.session.execute(statement)).one()
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])
