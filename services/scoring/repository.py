"""Scoring's SQL for scores, dispositions, rubrics and re-scoring runs (profiles and activities: `lead_repository.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from pydantic_core import to_json
from sqlalchemy import Table, delete, func, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.models import (
    Disposition,
    LeadProfile,
    RescoreRun,
    RubricApproval,
    RubricRecord,
    Score,
    ShadowScore,
    outbox,
)
from services.scoring.records import fired_rules_json
from shared import session_driver as driver
from shared.outbox import insert_sql

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]

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


def _score_insert_sql() -> str:
    """Score rows from one array per column (`:s_<column>`); the explanation comes as JSON text
    (`:s_fired_rules`), stored as it is (a `json` column: no conversion to jsonb)."""
    score = cast(Table, Score.__table__)
    columns = [name for name in _SCORE_COLUMNS if name != "fired_rules"]
    casts = ", ".join(
        f"CAST(:s_{name} AS {score.c[name].type.compile(dialect=_DIALECT)}[])" for name in columns
    )
    return (
        f"INSERT INTO {score.schema}.{score.name} ({', '.join(columns)}, fired_rules) "
        f"SELECT {', '.join(f's.{name}' for name in columns)}, CAST(s.fired_rules AS json) "
        f"FROM unnest({casts}, CAST(:s_fired_rules AS text[])) AS s({', '.join(columns)}, fired_rules)"
    )


_SCORE_INSERT_SQL = _score_insert_sql()


def _batch_writes_sql() -> str:
    """A scored round's writes in one statement: first qualifications, score rows and the
    outbox rows. A score's `fired_rules` is the slice of its `lead.scored` event's bytes that
    holds them (`records.fired_rules_json`), so the explanation is encoded once."""
    profile = cast(Table, LeadProfile.__table__)
    return (
        f"WITH qualified AS (UPDATE {profile.schema}.{profile.name} AS p SET qualified_at = q.at, "
        "qualification_reason = q.reason, qualified_rubric_version = q.rubric_version, qualification_round = 1 "
        "FROM unnest(CAST(:q_lead_id AS uuid[]), CAST(:q_at AS timestamptz[]), CAST(:q_reason AS varchar[]), "
        "CAST(:q_rubric_version AS varchar[])) AS q(lead_id, at, reason, rubric_version) "
        "WHERE p.lead_id = q.lead_id AND p.qualified_at IS NULL), "
        f"scored AS ({_SCORE_INSERT_SQL}) " + insert_sql(outbox, returning=True)
    )


_BATCH_WRITES_SQL = _batch_writes_sql()


class ScoreRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_round(
        self,
        rows: Sequence[dict[str, Any]],
        *,
        qualifications: Sequence[dict[str, Any]],
        staged: dict[str, list[Any]],
        scored_index: Sequence[int],
    ) -> list[tuple[int, uuid.UUID]]:
        """Insert score rows, record first qualifications (`lead_id`, `at`, `reason`,
        `rubric_version` each, of leads the caller holds locked and knows unqualified) and
        stage the outbox rows `staged` (`shared.outbox.staged_columns`), in one statement.
        `scored_index[i]` is the position in `staged` of `rows[i]`'s `lead.scored` event, whose
        fired rules the score keeps. Returns the outbox rows' (id, event_id)."""
        parameters: dict[str, Any] = dict(staged)
        for name in _SCORE_COLUMNS:
            if name != "fired_rules":
                parameters[f"s_{name}"] = [row[name] for row in rows]
        values = staged["value"]
        parameters["s_fired_rules"] = [fired_rules_json(values[index]) for index in scored_index]
        for name in ("lead_id", "at", "reason", "rubric_version"):
            parameters[f"q_{name}"] = [q[name] for q in qualifications]
        return [(row[0], row[1]) for row in await driver.fetch(self.session, _BATCH_WRITES_SQL, parameters)]

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert score rows (see `records.score_row`) in one statement."""
        parameters = {f"s_{name}": [row[name] for row in rows] for name in _SCORE_COLUMNS}
        parameters["s_fired_rules"] = [to_json(rules).decode() for rules in parameters["s_fired_rules"]]
        await self.session.execute(text(_SCORE_INSERT_SQL), parameters)

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

    async def drafts_by(self, author: str) -> Sequence[RubricRecord]:
        """The drafts `author` opened that are still drafts."""
        statement = select(RubricRecord).where(
            RubricRecord.status == "draft", RubricRecord.created_by == author
        )
        return (await self.session.scalars(statement)).all()

    async def in_force_stamps(self) -> tuple[tuple[str, datetime] | None, list[tuple[str, datetime]]]:
        """`active_stamp`, and the stamps of the drafts running in shadow, in one read."""
        statement = select(RubricRecord.version, RubricRecord.updated_at, RubricRecord.status).where(
            (RubricRecord.status == "active")
            | ((RubricRecord.status == "draft") & RubricRecord.shadow.is_(True))
        )
        active: tuple[str, datetime] | None = None
        shadows: list[tuple[str, datetime]] = []
        for row in (await self.session.execute(statement)).all():
            if row.status == "active":
                active = (row.version, row.updated_at)
            else:
                shadows.append((row.version, row.updated_at))
        return active, shadows

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
