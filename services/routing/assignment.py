"""Assigning a lead: deciding who takes it, writing the assignment, and handing it over (the
first assignment, and the re-route that an SLA breach, a rep's decline, a manager's
reassignment and the fallback queue's retry share). The single path (`assign_lead`) and the
batch path (`batch.assign_leads`) both build their rows and events here.
Transport-free: the caller owns the session and its transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import commitments, roundrobin
from services.routing.calendar import add_business_minutes
from services.routing.choice import Decision, availability_of
from services.routing.conditions import FieldValue
from services.routing.decision import decide
from services.routing.eligibility import local_day
from services.routing.metrics import DECISION_SECONDS, LEADS_QUEUED
from services.routing.models import Assignment, Rep, outbox
from services.routing.notifications import tell_rep
from services.routing.repository import (
    AssignmentRepository,
    FallbackQueueRepository,
    LedgerRepository,
    RepRepository,
)
from services.routing.rule_repository import DayCountRepository
from services.routing.rule_versions import ActiveRules
from services.routing.sla_repository import HolidayRepository, SlaTimerRepository
from shared.contracts import LeadAssigned, LeadAssignedPayload, LeadQualified, utc_now
from shared.outbox import add_event

log = logging.getLogger(__name__)

PRODUCER = "routing"

# Statuses in which nobody has answered the lead yet: a new holder gets a fresh SLA clock.
UNANSWERED = frozenset({"open", "queued"})


@dataclass(frozen=True)
class AssignOutcome:
    result: Literal["assigned", "already_assigned", "queued"]
    assignment: Assignment | None = None
    queue: str | None = None


async def assign_lead(session: AsyncSession, *, rules: ActiveRules, event: LeadQualified) -> AssignOutcome:
    """Assign a qualified lead to the next eligible rep, or park it in the fallback queue.

    A lead gets exactly one assignment however often it is qualified or redelivered.
    """
    assignments = AssignmentRepository(session)
    existing = await assignments.by_lead(event.lead_id)
    if existing is not None:
        return AssignOutcome("already_assigned", existing)
    await LedgerRepository(session).enter_pool(exclusive=False)
    return await decide_and_assign(session, rules=rules, event=event, queued_at=None)


def qualification_facts(event: LeadQualified) -> dict[str, str | float]:
    """The verdict the rules test besides the lead's snapshot."""
    payload = event.payload
    facts: dict[str, str | float] = {
        "grade": payload.grade,
        "score": payload.score,
        "sla_tier": payload.sla_tier,
    }
    if payload.persona:
        facts["persona"] = payload.persona  # the agreement's persona, for rules that test it
    return facts


async def decide_and_assign(
    session: AsyncSession, *, rules: ActiveRules, event: LeadQualified, queued_at: datetime | None
) -> AssignOutcome:
    """Decide who takes `event`'s lead now and write the assignment, or queue the lead (once:
    a lead that waited since `queued_at` stays where it is). The caller holds the pool lock."""
    assignments = AssignmentRepository(session)
    now = utc_now()
    payload = event.payload
    lead = payload.lead.model_dump(mode="json")
    with DECISION_SECONDS.time():
        decision = await decide(
            session, rules=rules, at=now, lead=lead, qualification=qualification_facts(event)
        )
    if decision.chosen is None:
        if queued_at is None:
            await queue_lead(session, event=event, decision=decision, at=now)
        return AssignOutcome("queued", queue=decision.queue)

    rep, standing = decision.chosen, decision.standing
    # A lead that waited in the fallback queue could not be touched earlier: its clock starts now.
    clock_start = payload.qualified_at if queued_at is None else max(payload.qualified_at, now)
    sla_due_at = await sla_due_at_for(session, rep=rep, start=clock_start, minutes=payload.sla_minutes)
    values = assignment_values(
        event,
        decision,
        lead=lead,
        at=now,
        clock_start=clock_start,
        sla_due_at=sla_due_at,
        queued_at=queued_at,
    )
    inserted = await assignments.add_unless_lead_assigned(**values)
    if not inserted:
        return AssignOutcome("already_assigned", await assignments.by_lead(event.lead_id))
    assignment = await assignments.by_lead(event.lead_id)
    assert assignment is not None
    await hand_over(session, assignment=assignment, rep=rep, standing=standing, at=now, caused_by=event)
    return AssignOutcome("assigned", assignment)


def assignment_values(
    event: LeadQualified,
    decision: Decision,
    *,
    lead: dict[str, Any],
    at: datetime,
    clock_start: datetime,
    sla_due_at: datetime,
    queued_at: datetime | None = None,
    assignment_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The assignment row that gives `event`'s lead (`lead`, its snapshot as JSON) to
    `decision.chosen` at `at`, its SLA clock started at `clock_start` (a new id unless given)."""
    assert decision.chosen is not None
    payload = event.payload
    trace = {
        **decision.trace,
        "sla_clock_started_at": clock_start.isoformat(),
        # What the lead was routed on, so a re-route (a decline, a breach) asks the same rules.
        "qualification": qualification_facts(event),
    }
    if queued_at is not None:
        trace["queued_at"] = queued_at.isoformat()
    return {
        "id": assignment_id or uuid.uuid4(),
        "lead_id": event.lead_id,
        "rep_id": decision.chosen.id,
        "status": "open",
        "sla_tier": payload.sla_tier,
        "sla_minutes": payload.sla_minutes,
        "sla_due_at": sla_due_at,
        "assigned_at": at,
        "qualified_at": payload.qualified_at,
        "lead": lead,
        "strategy": decision.strategy,
        "decision": trace,
        "qualified_event_id": event.event_id,
        "correlation_id": event.correlation_id,
        "reassignments": 0,
    }


async def queue_lead(
    session: AsyncSession, *, event: LeadQualified, decision: Decision, at: datetime
) -> None:
    """Park a lead nobody can take in its queue (once) and raise the alert."""
    reason = "no_rep" if not decision.trace["skipped"] else "no_eligible_rep"
    queued = await FallbackQueueRepository(session).enqueue(
        lead_id=event.lead_id,
        event=event.model_dump(mode="json"),
        pool=decision.queue,
        reason=reason,
        decision=decision.trace,
        at=at,
    )
    if queued:
        # The alert: an operator has to add or free up a rep, or the lead waits.
        LEADS_QUEUED.labels(decision.queue, reason).inc()
        log.warning(
            "routing.no_eligible_rep",
            extra={
                "lead_id": str(event.lead_id),
                "pool": decision.queue,
                "rule": decision.trace.get("rule"),
                "rules_version": decision.trace.get("rules_version"),
                "skipped": decision.trace["skipped"],
            },
        )


async def sla_due_at_for(session: AsyncSession, *, rep: Rep, start: datetime, minutes: float) -> datetime:
    """The first-touch deadline in the rep's business time (their hours, minus holidays)."""
    holidays = await HolidayRepository(session).days_from(start.date() - timedelta(days=1))
    return add_business_minutes(start, minutes, rep=availability_of(rep, 0), holidays=holidays)


def qualification_of(assignment: Assignment) -> dict[str, FieldValue]:
    """The verdict the lead was routed on (kept in the trace since the trace had it; before
    that, the grade in the snapshot and the SLA tier)."""
    kept = assignment.decision.get("qualification")
    if isinstance(kept, Mapping):
        return dict(kept)
    return {"grade": assignment.lead.get("grade"), "sla_tier": assignment.sla_tier}


async def reroute(
    session: AsyncSession,
    *,
    rules: ActiveRules,
    assignment: Assignment,
    at: datetime,
    excluding: uuid.UUID | None,
    kind: str,
    cancel_timers: bool = True,
    details: Mapping[str, Any] | None = None,
) -> Decision:
    """Run the lead (its snapshot and qualification, so its own rule decides) through the active
    rules again without `excluding`, and move it to whoever they choose. The caller holds the
    pool lock and the assignment's lock; with nobody chosen nothing moves."""
    decision = await decide(
        session,
        rules=rules,
        at=at,
        lead=assignment.lead,
        qualification=qualification_of(assignment),
        excluding=excluding,
    )
    if decision.chosen is not None:
        await move(
            session,
            assignment=assignment,
            rep=decision.chosen,
            standing=decision.standing,
            at=at,
            kind=kind,
            cancel_timers=cancel_timers,
            details={**(details or {}), "rule": decision.trace.get("rule"), "trace": decision.trace},
        )
    return decision


async def move(
    session: AsyncSession,
    *,
    assignment: Assignment,
    rep: Rep,
    standing: roundrobin.Standing | None,
    at: datetime,
    kind: str,
    cancel_timers: bool = True,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Give the assignment to `rep`: the old holder's pending timers are cancelled (an
    escalation's breach settles its own), a lead nobody answered yet restarts its SLA clock
    for the new rep, and `hand_over` does the rest. The move is kept in the trace."""
    from_rep = assignment.rep_id
    if cancel_timers:
        await SlaTimerRepository(session).settle_pending([assignment.id], outcome="cancelled", at=at)
    if assignment.status == "queued":
        await FallbackQueueRepository(session).remove(assignment.lead_id)
    restart = assignment.status in UNANSWERED
    if restart:
        assignment.status = "open"
        assignment.first_touch_at = None
        assignment.sla_due_at = await sla_due_at_for(
            session, rep=rep, start=at, minutes=assignment.sla_minutes
        )
    assignment.rep_id = rep.id
    assignment.assigned_at = at
    assignment.reassignments += 1
    record_handover(assignment, kind=kind, at=at, from_rep=from_rep, to_rep=rep.id, details=details)
    await session.flush()
    if cancel_timers and assignment.status == "accepted":
        # An accepted lead keeps its contact commitment across a hand-over: the clock (still
        # running from the qualification) now runs for the new holder.
        commitment = await commitments.commitment_for(session, assignment.sla_tier)
        await commitments.start_contact_clock(session, assignment=assignment, commitment=commitment)
    await hand_over(
        session,
        assignment=assignment,
        rep=rep,
        standing=standing,
        at=at,
        caused_by=None,
        start_clock=restart,
        handover=kind,
    )
    previous = await RepRepository(session).get(from_rep)
    if previous is not None and previous.id != rep.id:
        await tell_rep(
            session,
            previous,
            assignment,
            kind="lead.handed_over",
            at=at,
            qualification=qualification_of(assignment),
            handover=kind,
            other=rep,
        )


async def hand_over(
    session: AsyncSession,
    *,
    assignment: Assignment,
    rep: Rep,
    standing: roundrobin.Standing | None,
    at: datetime,
    caused_by: LeadQualified | None,
    start_clock: bool = True,
    handover: str | None = None,
) -> None:
    """What follows every (re)assignment: credit the pool's ledger (a rep a rule or a manager
    named directly took no turn in any rotation), count the rep's day, start their SLA timer
    (unless the lead was answered already), stage `lead.assigned` and tell the rep, on the
    channels they chose (`handover`: why the lead changed hands, if it did). An unanswered lead
    also starts the agreement's time to accept or reject for the rep."""
    if standing is not None:
        credited = roundrobin.credited(standing, at=at)
        await LedgerRepository(session).credit_assignment(
            rep.id,
            pool=standing.pool,
            credit=credited.credit,
            weight=standing.weight,
            at=at,
            share_when_picked=standing.share,
        )
    await DayCountRepository(session).count_one(rep.id, local_day(rep.timezone, at))
    if start_clock:
        await SlaTimerRepository(session).schedule(
            assignment_id=assignment.id, rep_id=rep.id, due_at=assignment.sla_due_at
        )
        if assignment.status == "open":
            hold = commitments.Hold(assignment.id, rep, assignment.sla_tier, at)
            await commitments.start_accept_clocks(session, [hold])
    await add_event(session, outbox, assigned_event(assignment, rep, at=at, caused_by=caused_by))
    await tell_rep(
        session,
        rep,
        assignment,
        kind="lead.assigned",
        at=at,
        qualification=qualification_of(assignment),
        handover=handover,
    )
    log_assigned(assignment, rep)


class Assigned(Protocol):
    """What `lead.assigned` tells of an assignment: an `Assignment`, or a batch's row not yet
    loaded as one."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def lead_id(self) -> uuid.UUID: ...
    @property
    def strategy(self) -> str: ...
    @property
    def sla_tier(self) -> str: ...
    @property
    def sla_due_at(self) -> datetime: ...
    @property
    def assigned_at(self) -> datetime: ...
    @property
    def qualified_at(self) -> datetime: ...
    @property
    def correlation_id(self) -> uuid.UUID: ...


def assigned_event(
    assignment: Assigned, rep: Rep, *, at: datetime, caused_by: LeadQualified | None
) -> LeadAssigned:
    """The `lead.assigned` event of a (re)assignment, for the caller to stage."""
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
    event: LeadAssigned
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
    return event


def log_assigned(assignment: Assigned, rep: Rep) -> None:
    log.info(
        "routing.lead_assigned",
        extra={
            "lead_id": str(assignment.lead_id),
            "rep_id": str(rep.id),
            "assignment_id": str(assignment.id),
        },
    )


def record_handover(
    assignment: Assignment,
    *,
    kind: str,
    at: datetime,
    from_rep: uuid.UUID,
    to_rep: uuid.UUID | None,
    details: Mapping[str, Any] | None,
) -> None:
    """Keep a change of hands in the assignment's trace."""
    entry = {
        "kind": kind,
        "at": at.isoformat(),
        "from_rep": str(from_rep),
        "to_rep": str(to_rep) if to_rep else None,
        **(details or {}),
    }
    # A new dict, so the ORM sees the JSONB change.
    assignment.decision = {
        **assignment.decision,
        "handovers": [*assignment.decision.get("handovers", []), entry],
    }
