"""Feedback's report SQL: aggregating `lead_fact` for the funnel, speed, SLA and reasons reports
(folding events into it: `fact_repository.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.feedback.funnel import CONVERSIONS, Stage
from services.feedback.hand_raisers import MqlTally
from services.feedback.models import STAGE_COLUMNS, LeadFact
from services.feedback.reports import Dimension, SlaTally, Speed

NONE_KEY = "(none)"


@dataclass(frozen=True)
class FactFilter:
    """Which leads a report covers; `ingested_from` inclusive, `ingested_before` exclusive.
    `source` is the channel (`form`, `linkedin`…), `utm_source` the lead's UTM source."""

    source: str | None = None
    utm_source: str | None = None
    form_id: str | None = None
    campaign: str | None = None
    rubric_version: str | None = None
    rep_id: uuid.UUID | None = None
    ingested_from: datetime | None = None
    ingested_before: datetime | None = None


# A lead counts under the version that judged it: the one that qualified it, else the one
# active when it arrived (a later re-score, e.g. at an activation, judged nothing it acted on).
_judged_rubric_version = func.coalesce(
    LeadFact.mql_rubric_version, LeadFact.ingest_rubric_version, LeadFact.rubric_version
)
_judged_grade = func.coalesce(LeadFact.mql_grade, LeadFact.grade)

_DIMENSIONS: Mapping[str, Any] = {
    "source": LeadFact.source,
    "campaign": LeadFact.campaign,
    "form_id": LeadFact.form_id,
    "grade": _judged_grade,
    "rubric_version": _judged_rubric_version,
    "rep_id": cast(LeadFact.rep_id, String),
    "sla_tier": LeadFact.sla_tier,
    "persona": LeadFact.persona,
    "month": func.to_char(func.timezone("UTC", LeadFact.ingested_at), "YYYY-MM"),
}


class FunnelRepository:
    """The reports' reads of `lead_fact` (its writes: `fact_repository.LeadFactRepository`)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def stage_signatures(
        self, where: FactFilter, *, by: Dimension | None = None
    ) -> list[tuple[str | None, frozenset[Stage], int]]:
        """How many leads recorded each exact combination of stages (per group, if `by`)."""
        key = _DIMENSIONS[by] if by else literal(None, String)
        flags = [column.is_not(None) for column in STAGE_COLUMNS.values()]
        statement = select(key, *flags, func.count()).where(*_conditions(where)).group_by(key, *flags)
        rows = (await self.session.execute(statement)).all()
        stages = list(STAGE_COLUMNS)
        return [
            (row[0], frozenset(s for s, on in zip(stages, row[1:-1], strict=True) if on), row[-1])
            for row in rows
        ]

    async def stage_medians(
        self, where: FactFilter, *, by: Dimension | None = None
    ) -> dict[str | None, dict[tuple[Stage, Stage], float | None]]:
        """Median seconds between consecutive main-path stages, per group if `by`."""
        key = _DIMENSIONS[by] if by else literal(None, String)
        medians = []
        for a, b in CONVERSIONS:
            start, end = STAGE_COLUMNS[a], STAGE_COLUMNS[b]
            seconds = func.extract("epoch", end - start)
            both = and_(start.is_not(None), end.is_not(None))
            medians.append(func.percentile_cont(0.5).within_group(seconds).filter(both))
        statement = select(key, *medians).where(*_conditions(where)).group_by(key)
        return {
            row[0]: {pair: _f(value) for pair, value in zip(CONVERSIONS, row[1:], strict=True)}
            for row in (await self.session.execute(statement)).all()
        }

    async def mqls_by_month(
        self, where: FactFilter, *, column: InstrumentedAttribute[datetime | None] = LeadFact.mql_at
    ) -> list[tuple[str, int]]:
        """MQLs (or, given `re_mql_at`, re-MQLs) per calendar month (UTC), oldest first."""
        month = func.to_char(func.timezone("UTC", column), "YYYY-MM")
        statement = (
            select(month, func.count())
            .where(*_conditions(where), column.is_not(None))
            .group_by(month)
            .order_by(month)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def re_mqls_by_month(self, where: FactFilter) -> list[tuple[str, int]]:
        """Re-MQLs (leads back from nurture that qualified again) per month of their latest."""
        return await self.mqls_by_month(where, column=LeadFact.re_mql_at)

    async def speed_to_lead(self, where: FactFilter, *, by: Dimension | None) -> list[Speed]:
        """p50/p95 in seconds of form→assignment (system) and assignment→first touch (human)."""
        key = _DIMENSIONS[by] if by else literal(None, String)
        system = func.extract("epoch", LeadFact.assigned_at - LeadFact.ingested_at)
        human = func.extract("epoch", LeadFact.first_touch_at - LeadFact.assigned_at)
        has_system = and_(LeadFact.assigned_at.is_not(None), LeadFact.ingested_at.is_not(None))
        has_human = and_(LeadFact.first_touch_at.is_not(None), LeadFact.assigned_at.is_not(None))
        # Speed to lead as the agreement means it: to a real contact (call, email, meeting).
        contact = func.extract("epoch", LeadFact.first_contact_at - LeadFact.assigned_at)
        has_contact = and_(LeadFact.first_contact_at.is_not(None), LeadFact.assigned_at.is_not(None))

        def pct(q: float, seconds: ColumnElement[Any], present: ColumnElement[bool]) -> Any:
            return func.percentile_cont(q).within_group(seconds).filter(present)

        statement = (
            select(
                key,
                func.count().filter(has_system),
                pct(0.5, system, has_system),
                pct(0.95, system, has_system),
                func.count().filter(has_human),
                pct(0.5, human, has_human),
                pct(0.95, human, has_human),
                func.count().filter(has_contact),
                pct(0.5, contact, has_contact),
                pct(0.95, contact, has_contact),
            )
            .where(*_conditions(where), or_(has_system, has_human))
            .group_by(key)
            .order_by(key)
        )
        rows = (await self.session.execute(statement)).all()
        return [
            Speed(r[0], r[1], _f(r[2]), _f(r[3]), r[4], _f(r[5]), _f(r[6]), r[7], _f(r[8]), _f(r[9]))
            for r in rows
        ]

    async def sla_tallies(self, where: FactFilter, *, by: Dimension | None, now: datetime) -> list[SlaTally]:
        """First touches within the SLA, late or never past due, and still within time."""
        key = _DIMENSIONS[by] if by else literal(None, String)
        touched = LeadFact.first_touch_at.is_not(None)
        met = LeadFact.sla_met.is_(True)
        missed = or_(LeadFact.sla_met.is_(False), and_(~touched, LeadFact.sla_due_at < now))
        pending = and_(~touched, LeadFact.sla_due_at >= now)
        statement = (
            select(key, func.count().filter(met), func.count().filter(missed), func.count().filter(pending))
            .where(*_conditions(where), LeadFact.sla_due_at.is_not(None))
            .group_by(key)
            .order_by(key)
        )
        rows = (await self.session.execute(statement)).all()
        return [SlaTally(r[0], r[1], r[2], r[3]) for r in rows]

    async def reason_counts(self, where: FactFilter, *, stage: Stage) -> dict[str | None, int]:
        """Leads per reason among those rejected (or lost)."""
        column = LeadFact.reject_reason if stage is Stage.REJECTED else LeadFact.loss_reason
        statement = (
            select(column, func.count())
            .where(*_conditions(where), STAGE_COLUMNS[stage].is_not(None))
            .group_by(column)
        )
        rows = (await self.session.execute(statement)).all()
        return {row[0]: row[1] for row in rows}


@dataclass(frozen=True)
class ScoredLead:
    """A scored lead's fired rules and, if sales judged it as an MQL, how it ended."""

    fired_rules: list[dict[str, Any]]
    judged: bool
    sql: bool
    won: bool
    amount: Decimal | None
    profile: dict[str, Any] = field(default_factory=dict)


class OutcomeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def scored_leads(self, where: FactFilter) -> list[ScoredLead]:
        """Every lead with a fired-rule record; judged ones are MQLs rejected, qualified as SQL,
        won or lost (a lead merely accepted is still open)."""
        judged = and_(
            LeadFact.mql_at.is_not(None),
            or_(
                LeadFact.rejected_at.is_not(None),
                LeadFact.sql_at.is_not(None),
                LeadFact.won_at.is_not(None),
                LeadFact.lost_at.is_not(None),
            ),
        )
        statement = (
            select(
                LeadFact.fired_rules,
                judged,
                or_(LeadFact.sql_at.is_not(None), LeadFact.won_at.is_not(None)),
                LeadFact.won_at.is_not(None),
                LeadFact.amount,
                LeadFact.profile,
            )
            .where(*_conditions(where), LeadFact.fired_rules.is_not(None))
            .order_by(LeadFact.lead_id)
        )
        rows = (await self.session.execute(statement)).all()
        return [
            ScoredLead(list(r[0]), bool(r[1]), bool(r[2]), bool(r[3]), r[4], dict(r[5] or {})) for r in rows
        ]

    async def mql_tallies(self, where: FactFilter) -> list[MqlTally]:
        """MQLs per form, persona, qualifying grade and way of qualifying (a hand-raiser's latest scoring fired
        `mql.hand_raiser`), with how many were judged and became SQLs or wins."""
        closed = or_(
            LeadFact.rejected_at.is_not(None),
            LeadFact.sql_at.is_not(None),
            LeadFact.won_at.is_not(None),
            LeadFact.lost_at.is_not(None),
        )
        converted = or_(LeadFact.sql_at.is_not(None), LeadFact.won_at.is_not(None))
        hand_raiser = func.coalesce(LeadFact.fired_rules.contains([{"rule_id": "mql.hand_raiser"}]), False)
        statement = (
            select(
                LeadFact.form_id,
                LeadFact.persona,
                LeadFact.mql_grade,
                hand_raiser,
                func.count(),
                func.count().filter(closed),
                func.count().filter(converted),
                func.count().filter(LeadFact.won_at.is_not(None)),
            )
            .where(*_conditions(where), LeadFact.mql_at.is_not(None))
            .group_by(LeadFact.form_id, LeadFact.persona, LeadFact.mql_grade, hand_raiser)
        )
        rows = (await self.session.execute(statement)).all()
        return [MqlTally(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], r[7]) for r in rows]


def _conditions(where: FactFilter) -> Sequence[ColumnElement[bool]]:
    # Platforms' test submissions are stored (they prove the integration works) but never counted.
    conditions: list[ColumnElement[bool]] = [LeadFact.is_test.is_(False)]
    if where.source is not None:
        conditions.append(LeadFact.source == where.source)
    if where.utm_source is not None:
        conditions.append(LeadFact.utm["source"].astext == where.utm_source)
    if where.form_id is not None:
        conditions.append(LeadFact.form_id == where.form_id)
    if where.campaign is not None:
        conditions.append(LeadFact.campaign == where.campaign)
    if where.rubric_version is not None:
        conditions.append(_judged_rubric_version == where.rubric_version)
    if where.rep_id is not None:
        conditions.append(LeadFact.rep_id == where.rep_id)
    if where.ingested_from is not None:
        conditions.append(LeadFact.ingested_at >= where.ingested_from)
    if where.ingested_before is not None:
        conditions.append(LeadFact.ingested_at < where.ingested_before)
    return conditions


def _f(value: Any) -> float | None:
    return None if value is None else float(value)
