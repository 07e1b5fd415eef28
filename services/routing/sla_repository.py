"""Routing's SQL for the SLA clock: the durable timers and the holidays business time skips."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.models import Assignment, Holiday, SlaTimer

# Over `unnest(arrays)`: one statement text for any number of reminders. A multi-row VALUES
# through the ORM was compiled anew for each claim, a tenth of routing's CPU at 300 MQL/s.
_INSERT_REMINDERS = text(
    "INSERT INTO routing.sla_timer (id, assignment_id, rep_id, due_at, kind, fraction, reminders_planned) "
    "SELECT gen_random_uuid(), u.assignment_id, u.rep_id, u.due_at, 'reminder', u.fraction, true "
    "FROM unnest(CAST(:assignment_id AS uuid[]), CAST(:rep_id AS uuid[]), "
    "CAST(:due_at AS timestamptz[]), CAST(:fraction AS float8[])) AS u(assignment_id, rep_id, due_at, fraction)"
)


class UnplannedTimer(NamedTuple):
    id: uuid.UUID
    assignment_id: uuid.UUID
    rep_id: uuid.UUID
    due_at: datetime


class ClockFacts(NamedTuple):
    """An assignment's clock, as reminder planning reads it."""

    id: uuid.UUID
    status: str
    rep_id: uuid.UUID
    first_touch_at: datetime | None
    reassignments: int
    assigned_at: datetime
    qualified_at: datetime
    sla_minutes: int
    clock_started_at: str | None


class SlaTimerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def schedule(
        self,
        *,
        assignment_id: uuid.UUID,
        rep_id: uuid.UUID,
        due_at: datetime,
        kind: str = "breach",
        fraction: float | None = None,
    ) -> None:
        self.session.add(
            SlaTimer(
                id=uuid.uuid4(),
                assignment_id=assignment_id,
                rep_id=rep_id,
                due_at=due_at,
                kind=kind,
                fraction=fraction,
                reminders_planned=kind != "breach",
            )
        )
        await self.session.flush()

    async def insert_reminders(self, reminders: Sequence[Mapping[str, Any]]) -> None:
        """Reminder timers (`assignment_id`, `rep_id`, `due_at`, `fraction`) in one statement."""
        if reminders:
            await self.session.execute(
                _INSERT_REMINDERS,
                {
                    name: [r[name] for r in reminders]
                    for name in ("assignment_id", "rep_id", "due_at", "fraction")
                },
            )

    async def mark_planned(self, timer_ids: Sequence[uuid.UUID]) -> None:
        if timer_ids:
            await self.session.execute(
                update(SlaTimer).where(SlaTimer.id.in_(timer_ids)).values(reminders_planned=True)
            )

    async def clock_facts(self, assignment_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, ClockFacts]:
        """What planning a clock's reminders reads of each assignment, without its documents."""
        result = await self.session.execute(
            select(
                Assignment.id,
                Assignment.status,
                Assignment.rep_id,
                Assignment.first_touch_at,
                Assignment.reassignments,
                Assignment.assigned_at,
                Assignment.qualified_at,
                Assignment.sla_minutes,
                Assignment.decision["sla_clock_started_at"].astext.label("clock_started_at"),
            ).where(Assignment.id.in_(assignment_ids))
        )
        return {row.id: ClockFacts(**row._mapping) for row in result}

    async def schedule_all(self, timers: Sequence[Mapping[str, Any]]) -> None:
        """Timers of any kind (`assignment_id`, `rep_id`, `kind`, `due_at`, optional `fraction`)
        that need no planning, written in one flush."""
        if not timers:
            return
        self.session.add_all(SlaTimer(id=uuid.uuid4(), reminders_planned=True, **timer) for timer in timers)
        await self.session.flush()

    async def pending_due_at(
        self, assignment_id: uuid.UUID, *, kind: str, rep_id: uuid.UUID
    ) -> datetime | None:
        """When the rep's unfired timer of `kind` on the assignment is due, if there is one."""
        result = await self.session.scalar(
            select(func.min(SlaTimer.due_at)).where(
                SlaTimer.assignment_id == assignment_id,
                SlaTimer.kind == kind,
                SlaTimer.rep_id == rep_id,
                SlaTimer.fired_at.is_(None),
            )
        )
        return result

    async def claim_unplanned(self, *, limit: int) -> Sequence[UnplannedTimer]:
        """Pending breach timers whose reminders are not planned yet; SKIP LOCKED, so replicas
        plan different timers and each timer's reminders are planned once."""
        result = await self.session.execute(
            select(SlaTimer.id, SlaTimer.assignment_id, SlaTimer.rep_id, SlaTimer.due_at)
            .where(
                SlaTimer.kind == "breach", SlaTimer.reminders_planned.is_(False), SlaTimer.fired_at.is_(None)
            )
            .order_by(SlaTimer.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [UnplannedTimer(**row._mapping) for row in result]

    async def count_pending(self) -> int:
        result = await self.session.scalar(
            select(func.count()).select_from(SlaTimer).where(SlaTimer.fired_at.is_(None))
        )
        return int(result or 0)

    async def claim_due(self, *, now: datetime, limit: int) -> Sequence[tuple[SlaTimer, Assignment]]:
        """Unfired timers past due, earliest first, each locked with its assignment. SKIP LOCKED
        lets every replica's scanner take different timers, and marking them fired in the same
        transaction fires each once. Taking the assignment in the same statement means two
        scanners never hold timers of one assignment (a reminder and a breach, say) and then wait
        on each other's assignment locks; a lead a rep is touching right now waits a pass."""
        result = await self.session.execute(
            select(SlaTimer, Assignment)
            .join(Assignment, Assignment.id == SlaTimer.assignment_id)
            .where(SlaTimer.fired_at.is_(None), SlaTimer.due_at <= now)
            .order_by(SlaTimer.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=[SlaTimer, Assignment])
            .execution_options(populate_existing=True)
        )
        return [(timer, assignment) for timer, assignment in result.all()]

    def mark_fired(self, timer: SlaTimer, *, outcome: str, at: datetime) -> None:
        """Written with the batch's next flush: a scanner fires many timers per round trip."""
        timer.fired_at = at
        timer.outcome = outcome

    async def settle_pending(
        self, assignment_ids: Collection[uuid.UUID], *, outcome: str, at: datetime, kind: str | None = None
    ) -> int:
        """Close the assignments' unfired timers (of `kind`, or all) as `outcome`. Timers another
        scanner holds right now are skipped: it re-checks the assignment under its lock."""
        if not assignment_ids:
            return 0
        pending = (
            select(SlaTimer.id)
            .where(SlaTimer.assignment_id.in_(assignment_ids), SlaTimer.fired_at.is_(None))
            .with_for_update(skip_locked=True)
        )
        if kind is not None:
            pending = pending.where(SlaTimer.kind == kind)
        result = await self.session.execute(
            update(SlaTimer)
            .where(SlaTimer.id.in_(pending.scalar_subquery()))
            .values(fired_at=at, outcome=outcome)
            .returning(SlaTimer.id)
            .execution_options(synchronize_session=False)
        )
        return len(result.all())

    async def count_breaches(self, rep_id: uuid.UUID, *, since: datetime) -> int:
        result = await self.session.scalar(
            select(func.count())
            .select_from(SlaTimer)
            .where(SlaTimer.rep_id == rep_id, SlaTimer.outcome == "breached", SlaTimer.fired_at >= since)
        )
        return int(result or 0)

    async def for_assignment(self, assignment_id: uuid.UUID) -> Sequence[SlaTimer]:
        result = await self.session.execute(
            select(SlaTimer).where(SlaTimer.assignment_id == assignment_id).order_by(SlaTimer.due_at)
        )
        return result.scalars().all()


class HolidayRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> Sequence[Holiday]:
        return (await self.session.execute(select(Holiday).order_by(Holiday.day))).scalars().all()

    async def days_from(self, day: date) -> frozenset[date]:
        result = await self.session.execute(select(Holiday.day).where(Holiday.day >= day))
        return frozenset(result.scalars().all())

    async def put(self, *, day: date, name: str) -> None:
        statement = insert(Holiday).values(day=day, name=name)
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=[Holiday.day], set_={"name": name})
        )

    async def remove(self, day: date) -> bool:
        result = await self.session.execute(delete(Holiday).where(Holiday.day == day).returning(Holiday.day))
        return result.scalar_one_or_none() is not None
