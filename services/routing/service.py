"""Routing's use cases. No transport here: the caller owns the session and its transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import roundrobin
from services.routing.decision import POOL, STRATEGY, Decision, active_standings, decide, standing_of
from services.routing.errors import (
    AssignmentNotFound,
    LeadNotAssigned,
    NotYourAssignment,
    RepEmailTaken,
    RepNotFound,
)
from services.routing.lifecycle import check_details, check_transition
from services.routing.models import Assignment, Disposition, Rep, RepLedger, outbox
from services.routing.repository import (
    AssignmentRepository,
    DispositionRepository,
    FallbackQueueRepository,
    LedgerRepository,
    RepRepository,
)
from services.routing.schemas import (
    AssignmentRead,
    DispositionCreate,
    DispositionRead,
    RepCreate,
    RepRead,
    RepUpdate,
    WorkingHours,
)
from shared.contracts import (
    LeadAssigned,
    LeadAssignedPayload,
    LeadDispositioned,
    LeadDispositionedPayload,
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
        event = LeadQualified.model_validate(waiting.event)
        outcome = await _assign(session, event=event, queued_at=waiting.queued_at)
        if outcome.result == "queued":
            break
        await queue.remove(waiting.lead_id)
        assigned += outcome.result == "assigned"
    if assigned:
        log.info("routing.fallback_queue_drained", extra={"assigned": assigned})
    return assigned


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
    sla_due_at = clock_start + timedelta(minutes=payload.sla_minutes)
    inserted = await assignments.add_unless_lead_assigned(
        id=assignment_id,
        lead_id=event.lead_id,
        rep_id=rep.id,
        status="open",
        sla_tier=payload.sla_tier,
        sla_due_at=sla_due_at,
        assigned_at=now,
        qualified_at=payload.qualified_at,
        lead=payload.lead.model_dump(mode="json"),
        strategy=STRATEGY,
        decision=trace,
        qualified_event_id=event.event_id,
        correlation_id=event.correlation_id,
    )
    if not inserted:
        return AssignOutcome("already_assigned", await assignments.by_lead(event.lead_id))
    credited = roundrobin.credited(standing, at=now)
    await LedgerRepository(session).credit_assignment(rep.id, credit=credited.credit, at=now)
    assigned = LeadAssigned.new(
        lead_id=event.lead_id,
        payload=LeadAssignedPayload(
            assignment_id=assignment_id,
            rep_id=rep.id,
            rep_name=rep.name,
            strategy=STRATEGY,
            sla_tier=payload.sla_tier,
            sla_due_at=sla_due_at,
            assigned_at=now,
            qualified_at=payload.qualified_at,
        ),
        producer=PRODUCER,
        caused_by=event,
        occurred_at=now,
    )
    await add_event(session, outbox, assigned)
    log.info(
        "routing.lead_assigned",
        extra={"lead_id": str(event.lead_id), "rep_id": str(rep.id), "assignment_id": str(assignment_id)},
    )
    return AssignOutcome("assigned", await assignments.by_lead(event.lead_id))


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


# ---- reading and dispositions -----------------------------------------------------------------


async def get_lead_assignment(
    session: AsyncSession, *, lead_id: uuid.UUID, acting_rep: uuid.UUID | None
) -> AssignmentRead:
    """The lead's assignment. `acting_rep` is the caller when a rep; None for managers and admins."""
    assignment = await AssignmentRepository(session).by_lead(lead_id)
    if assignment is None:
        queued = await FallbackQueueRepository(session).contains(lead_id)
        detail = "waiting in the fallback queue for an eligible rep" if queued else "not assigned"
        raise LeadNotAssigned(f"lead {lead_id} is {detail}", queued=queued)
    _check_owner(assignment.rep_id, acting_rep)
    return AssignmentRead.model_validate(assignment)


async def rep_queue(
    session: AsyncSession, *, rep_id: uuid.UUID, acting_rep: uuid.UUID | None, statuses: Sequence[str]
) -> list[AssignmentRead]:
    """The rep's assignments in `statuses`, most urgent SLA first."""
    _check_owner(rep_id, acting_rep)
    if await RepRepository(session).get(rep_id) is None:
        raise RepNotFound(f"no rep {rep_id}")
    rows = await AssignmentRepository(session).for_rep(rep_id, statuses=statuses)
    return [AssignmentRead.model_validate(a) for a in rows]


async def record_disposition(
    session: AsyncSession,
    *,
    assignment_id: uuid.UUID,
    disposition: DispositionCreate,
    acting_rep: uuid.UUID | None,
    recorded_by: str,
) -> DispositionRead:
    """Record a rep's outcome for an assignment and stage `lead.dispositioned`.

    The first disposition is the first touch (it stops the first-response clock).
    """
    assignment = await AssignmentRepository(session).lock(assignment_id)
    if assignment is None:
        raise AssignmentNotFound(f"no assignment {assignment_id}")
    _check_owner(assignment.rep_id, acting_rep)
    check_details(disposition.outcome, reason=disposition.reason, has_amount=disposition.amount is not None)
    check_transition(assignment.status, disposition.outcome)

    now = utc_now()
    event = LeadDispositioned(
        producer=PRODUCER,
        lead_id=assignment.lead_id,
        correlation_id=assignment.correlation_id,
        occurred_at=now,
        payload=LeadDispositionedPayload(
            assignment_id=assignment.id,
            rep_id=assignment.rep_id,
            outcome=disposition.outcome,
            reason=disposition.reason,
            amount=disposition.amount,
            dispositioned_at=now,
        ),
    )
    row = Disposition(
        id=uuid.uuid4(),
        assignment_id=assignment.id,
        rep_id=assignment.rep_id,
        outcome=disposition.outcome,
        reason=disposition.reason,
        amount=disposition.amount,
        recorded_by=recorded_by,
        recorded_at=now,
        event_id=event.event_id,
    )
    await DispositionRepository(session).add(row)
    await AssignmentRepository(session).record_outcome(
        assignment, status=disposition.outcome, first_touch_at=now
    )
    await add_event(session, outbox, event)
    log.info(
        "routing.lead_dispositioned",
        extra={"assignment_id": str(assignment.id), "outcome": disposition.outcome},
    )
    return DispositionRead.model_validate(row)


# ---- helpers ----------------------------------------------------------------------------------


def _check_owner(rep_id: uuid.UUID, acting_rep: uuid.UUID | None) -> None:
    if acting_rep is not None and acting_rep != rep_id:
        raise NotYourAssignment("a rep may only see and act on their own assignments")


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
