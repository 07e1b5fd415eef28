"""Routing's use cases. No transport here: the caller owns the session and its transaction."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import roundrobin
from services.routing.calendar import add_business_minutes
from services.routing.decision import (
    POOL,
    STRATEGY,
    Decision,
    active_standings,
    availability_of,
    decide,
    standing_of,
)
from services.routing.errors import (
    HolidayNotFound,
    RepEmailTaken,
    RepNotFound,
)
from services.routing.models import Assignment, Rep, RepLedger, outbox
from services.routing.repository import (
    AssignmentRepository,
    FallbackQueueRepository,
    HolidayRepository,
    LedgerRepository,
    RepRepository,
    SlaTimerRepository,
)
from services.routing.schemas import (
    HolidayRead,
    RepCreate,
    RepRead,
    RepUpdate,
    RoutingPreview,
    WorkingHours,
)
from shared.contracts import (
    LeadAssigned,
    LeadAssignedPayload,
    LeadQualified,
    utc_now,
)
from shared.outbox import add_event

log = logging.getLogger(__name__)

PRODUCER = "routing"
DRAIN_BATCH = 100


@dataclass(frozen=True)
class AssignOutcome:
    result: Literal["assigned", "already_assigned", "queued"]
    assignment: Assignment | None = None


# ---- reps -------------------------------------------------------------------------------------


async def list_reps(session: AsyncSession) -> list[RepRead]:
    return [_rep_read(rep, ledger) for rep, ledger in await RepRepository(session).all_with_ledger()]


async def register_rep(session: AsyncSession, *, rep: RepCreate) -> RepRead:
    """Add a rep to the pool, level with the lowest standing so they get no catch-up burst.

    An active newcomer also drains the fallback queue.
    """
    ledgers = LedgerRepository(session)
    await ledgers.enter_pool(exclusive=True)
    hours = rep.working_hours
    created = await RepRepository(session).add_unless_email_taken(
        id=uuid.uuid4(),
        name=rep.name,
        email=str(rep.email).lower(),
        active=rep.active,
        weight=rep.weight,
        timezone=rep.timezone,
        skills=rep.skills,
        work_start=hours.start if hours else None,
        work_end=hours.end if hours else None,
        work_days=hours.days if hours else [0, 1, 2, 3, 4],
        max_open=rep.max_open,
        created_at=utc_now(),
    )
    if created is None:
        raise RepEmailTaken(f"a rep with email {rep.email!r} already exists")
    others = await active_standings(session, excluding=created.id)
    await ledgers.open(rep_id=created.id, credit=roundrobin.opening_credit(created.weight, others))
    log.info("routing.rep_registered", extra={"rep_id": str(created.id)})
    if created.active:
        await assign_queued_leads(session)
    ledger = await ledgers.get(created.id)
    assert ledger is not None
    return _rep_read(created, ledger)


async def update_rep(session: AsyncSession, *, rep_id: uuid.UUID, changes: RepUpdate) -> RepRead:
    """Change a rep's switch, weight, hours or cap without disturbing anyone's standing.

    A weight change keeps the rep's standing (it applies from now on); a rep switched back on
    returns no lower than the team's lowest standing; either may drain the fallback queue.
    """
    ledgers = LedgerRepository(session)
    await ledgers.enter_pool(exclusive=True)
    rep = await RepRepository(session).lock(rep_id)
    ledger = await ledgers.get(rep_id)
    if rep is None or ledger is None:
        raise RepNotFound(f"no rep {rep_id}")
    given = changes.model_fields_set
    if changes.weight is not None and changes.weight != rep.weight:
        ledger.credit = roundrobin.rebased_credit(
            ledger.credit, old_weight=rep.weight, new_weight=changes.weight
        )
        rep.weight = changes.weight
    if changes.active is True and not rep.active:
        others = await active_standings(session, excluding=rep.id)
        ledger.credit = roundrobin.returning_credit(standing_of(rep, ledger), others)
    if changes.active is not None:
        rep.active = changes.active
    if changes.timezone is not None:
        rep.timezone = changes.timezone
    if "working_hours" in given:
        hours = changes.working_hours
        rep.work_start = hours.start if hours else None
        rep.work_end = hours.end if hours else None
        rep.work_days = hours.days if hours else [0, 1, 2, 3, 4]
    if "max_open" in given:
        rep.max_open = changes.max_open
    await session.flush()
    log.info("routing.rep_updated", extra={"rep_id": str(rep.id), "changed": sorted(given)})
    if rep.active:
        await assign_queued_leads(session)
    return _rep_read(rep, ledger)


# ---- assignment -------------------------------------------------------------------------------


async def assign_lead(session: AsyncSession, *, event: LeadQualified) -> AssignOutcome:
    """Assign a qualified lead to the next eligible rep, or park it in the fallback queue.

    A lead gets exactly one assignment however often it is qualified or redelivered.
    """
    assignments = AssignmentRepository(session)
    existing = await assignments.by_lead(event.lead_id)
    if existing is not None:
        return AssignOutcome("already_assigned", existing)
    await LedgerRepository(session).enter_pool(exclusive=False)
    return await _assign(session, event=event, queued_at=None)


async def assign_queued_leads(session: AsyncSession, *, limit: int = DRAIN_BATCH) -> int:
    """Assign leads waiting in the fallback queue, oldest first, while reps can take them."""
    queue = FallbackQueueRepository(session)
    assigned = 0
    for waiting in await queue.claim_oldest(limit=limit):
        if await AssignmentRepository(session).by_lead(waiting.lead_id) is not None:
            # A later qualification of the same lead found a rep first.
            await queue.remove(waiting.lead_id)
            continue
        event = LeadQualified.model_validate(waiting.event)
        outcome = await _assign(session, event=event, queued_at=waiting.queued_at)
        if outcome.result == "queued":
            break
        await queue.remove(waiting.lead_id)
        assigned += outcome.result == "assigned"
    if assigned:
        log.info("routing.fallback_queue_drained", extra={"assigned": assigned})
    return assigned


async def sla_due_at_for(session: AsyncSession, *, rep: Rep, start: datetime, minutes: int) -> datetime:
    """The first-touch deadline in the rep's business time (their hours, minus holidays)."""
    holidays = await HolidayRepository(session).days_from(start.date() - timedelta(days=1))
    return add_business_minutes(start, minutes, rep=availability_of(rep, 0), holidays=holidays)


async def retry_fallback_queue(session: AsyncSession) -> int:
    """Try the fallback queue again (working hours begin, caps free up); cheap when empty."""
    if await FallbackQueueRepository(session).size() == 0:
        return 0
    await LedgerRepository(session).enter_pool(exclusive=True)
    return await assign_queued_leads(session)


async def preview_assignment(session: AsyncSession, *, at: datetime | None = None) -> RoutingPreview:
    """Who would get a lead qualified at `at` (default now), and why, without assigning it."""
    decision = await decide(session, at=at or utc_now(), lock=False)
    return RoutingPreview.model_validate(decision.trace)


async def _assign(
    session: AsyncSession, *, event: LeadQualified, queued_at: datetime | None
) -> AssignOutcome:
    assignments = AssignmentRepository(session)
    now = utc_now()
    decision = await decide(session, at=now)
    if decision.chosen is None or decision.standing is None:
        if queued_at is None:
            await _queue(session, event=event, decision=decision, at=now)
        return AssignOutcome("queued")

    rep, standing = decision.chosen, decision.standing
    payload = event.payload
    # A lead that waited in the fallback queue could not be touched earlier: its clock starts now.
    clock_start = payload.qualified_at if queued_at is None else max(payload.qualified_at, now)
    trace = {**decision.trace, "sla_clock_started_at": clock_start.isoformat()}
    if queued_at is not None:
        trace["queued_at"] = queued_at.isoformat()
    assignment_id = uuid.uuid4()
    sla_due_at = await sla_due_at_for(session, rep=rep, start=clock_start, minutes=payload.sla_minutes)
    inserted = await assignments.add_unless_lead_assigned(
        id=assignment_id,
        lead_id=event.lead_id,
        rep_id=rep.id,
        status="open",
        sla_tier=payload.sla_tier,
        sla_minutes=payload.sla_minutes,
        sla_due_at=sla_due_at,
        assigned_at=now,
        qualified_at=payload.qualified_at,
        lead=payload.lead.model_dump(mode="json"),
        strategy=STRATEGY,
        decision=trace,
        qualified_event_id=event.event_id,
        correlation_id=event.correlation_id,
        reassignments=0,
    )
    if not inserted:
        return AssignOutcome("already_assigned", await assignments.by_lead(event.lead_id))
    assignment = await assignments.by_lead(event.lead_id)
    assert assignment is not None
    await hand_over(session, assignment=assignment, rep=rep, standing=standing, at=now, caused_by=event)
    return AssignOutcome("assigned", assignment)


async def hand_over(
    session: AsyncSession,
    *,
    assignment: Assignment,
    rep: Rep,
    standing: roundrobin.Standing,
    at: datetime,
    caused_by: LeadQualified | None,
) -> None:
    """What follows every (re)assignment: credit the ledger, start the rep's SLA timer, and
    stage `lead.assigned`."""
    credited = roundrobin.credited(standing, at=at)
    await LedgerRepository(session).credit_assignment(
        rep.id, credit=credited.credit, at=at, share_when_picked=standing.share
    )
    await SlaTimerRepository(session).schedule(
        assignment_id=assignment.id, rep_id=rep.id, due_at=assignment.sla_due_at
    )
    payload = LeadAssignedPayload(
        assignment_id=assignment.id,
        rep_id=rep.id,
        rep_name=rep.name,
        strategy=assignment.strategy,
        sla_tier=assignment.sla_tier,
        sla_due_at=assignment.sla_due_at,
        assigned_at=assignment.assigned_at,
        qualified_at=assignment.qualified_at,
    )
    if caused_by is not None:
        event = LeadAssigned.new(
            lead_id=assignment.lead_id,
            payload=payload,
            producer=PRODUCER,
            caused_by=caused_by,
            occurred_at=at,
        )
    else:
        # A reassignment has no causing event on the wire; it stays in the lead's journey.
        event = LeadAssigned(
            lead_id=assignment.lead_id,
            payload=payload,
            producer=PRODUCER,
            correlation_id=assignment.correlation_id,
            occurred_at=at,
        )
    await add_event(session, outbox, event)
    log.info(
        "routing.lead_assigned",
        extra={
            "lead_id": str(assignment.lead_id),
            "rep_id": str(rep.id),
            "assignment_id": str(assignment.id),
        },
    )


async def _queue(session: AsyncSession, *, event: LeadQualified, decision: Decision, at: datetime) -> None:
    reason = "no_rep" if not decision.trace["skipped"] else "no_eligible_rep"
    queued = await FallbackQueueRepository(session).enqueue(
        lead_id=event.lead_id,
        event=event.model_dump(mode="json"),
        reason=reason,
        decision=decision.trace,
        at=at,
    )
    if queued:
        # The alert: an operator has to add or free up a rep, or the lead waits.
        log.warning(
            "routing.no_eligible_rep",
            extra={"lead_id": str(event.lead_id), "pool": POOL, "skipped": decision.trace["skipped"]},
        )


# ---- holidays ----------------------------------------------------------------------------------


async def list_holidays(session: AsyncSession) -> list[HolidayRead]:
    return [HolidayRead(day=h.day, name=h.name) for h in await HolidayRepository(session).all()]


async def set_holiday(session: AsyncSession, *, day: date, name: str) -> HolidayRead:
    """Declare a day off for the SLA clock. Deadlines already set keep their time."""
    await HolidayRepository(session).put(day=day, name=name)
    return HolidayRead(day=day, name=name)


async def remove_holiday(session: AsyncSession, *, day: date) -> None:
    if not await HolidayRepository(session).remove(day):
        raise HolidayNotFound(f"no holiday on {day.isoformat()}")


# ---- helpers ----------------------------------------------------------------------------------


def _rep_read(rep: Rep, ledger: RepLedger) -> RepRead:
    hours = (
        WorkingHours(start=rep.work_start, end=rep.work_end, days=list(rep.work_days))
        if rep.work_start is not None and rep.work_end is not None
        else None
    )
    return RepRead(
        id=rep.id,
        name=rep.name,
        email=rep.email,
        active=rep.active,
        weight=rep.weight,
        timezone=rep.timezone,
        skills=list(rep.skills),
        working_hours=hours,
        max_open=rep.max_open,
        created_at=rep.created_at,
        assigned=ledger.assigned,
    )
