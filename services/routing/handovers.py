"""A lead changing hands: the first assignment's hand-over, and the re-route that an SLA breach,
a rep's decline, a manager's reassignment and the fallback queue's retry share. Transport-free."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import roundrobin
from services.routing.access import Actor, check_may_act, check_on_team
from services.routing.calendar import add_business_minutes
from services.routing.choice import Decision, availability_of
from services.routing.conditions import FieldValue
from services.routing.decision import decide
from services.routing.eligibility import local_day
from services.routing.errors import AssignmentNotFound, CannotReassign, NotYourAssignment, RepNotFound
from services.routing.lifecycle import DECLINABLE, REASSIGNABLE, check_handover
from services.routing.metrics import LEADS_QUEUED
from services.routing.models import Assignment, Rep, outbox
from services.routing.repository import (
    AssignmentRepository,
    FallbackQueueRepository,
    LedgerRepository,
    RepRepository,
)
from services.routing.rule_repository import DayCountRepository
from services.routing.schemas import AssignmentRead, DeclineCreate, HandoverRead, ReassignCreate
from services.routing.sla_repository import HolidayRepository, SlaTimerRepository
from shared.contracts import LeadAssigned, LeadAssignedPayload, LeadQualified, utc_now
from shared.outbox import add_event

log = logging.getLogger(__name__)

PRODUCER = "routing"

# Statuses in which nobody has answered the lead yet: a new holder gets a fresh SLA clock.
UNANSWERED = frozenset({"open", "queued"})


async def decline_assignment(
    session: AsyncSession, *, assignment_id: uuid.UUID, decline: DeclineCreate, actor: Actor, by: str
) -> HandoverRead:
    """The rep hands an open lead back: the rules route it again, to anyone but them, with a
    fresh SLA clock; with nobody to take it, it waits in the fallback queue."""
    assignment = await _take_for_handover(
        session, assignment_id, actor=actor, kind="declined", allowed=DECLINABLE
    )
    from_rep = assignment.rep_id
    details = {"reason": decline.reason, "by": by}
    at = utc_now()
    decision = await reroute(
        session, assignment=assignment, at=at, excluding=from_rep, kind="declined", details=details
    )
    if decision.chosen is None:
        await queue_assignment(session, assignment=assignment, decision=decision, at=at, kind="declined")
    log.info("routing.lead_declined", extra={"assignment_id": str(assignment.id), "rep_id": str(from_rep)})
    return _handover_read(assignment, from_rep=from_rep, decision=decision)


async def reassign_assignment(
    session: AsyncSession, *, assignment_id: uuid.UUID, reassign: ReassignCreate, actor: Actor, by: str
) -> HandoverRead:
    """A manager moves a lead to a named rep of their team, or lets the rules pick anyone but
    its holder (the fallback queue when nobody can). A named rep takes no turn in any rotation."""
    if actor.is_rep:
        raise NotYourAssignment("only a manager or an admin reassigns leads")
    assignment = await _take_for_handover(
        session, assignment_id, actor=actor, kind="reassigned", allowed=REASSIGNABLE
    )
    from_rep = assignment.rep_id
    details = {"reason": reassign.reason, "by": by}
    at = utc_now()
    if reassign.rep_id is None:
        decision = await reroute(
            session, assignment=assignment, at=at, excluding=from_rep, kind="reassigned", details=details
        )
        if decision.chosen is None and assignment.status != "queued":
            await queue_assignment(
                session, assignment=assignment, decision=decision, at=at, kind="reassigned"
            )
        return _handover_read(assignment, from_rep=from_rep, decision=decision)
    if reassign.rep_id == from_rep and assignment.status != "queued":
        raise CannotReassign(f"rep {from_rep} already holds this lead")
    await check_on_team(session, rep_id=reassign.rep_id, actor=actor)
    rep = await RepRepository(session).get(reassign.rep_id)
    if rep is None:
        raise RepNotFound(f"no rep {reassign.rep_id}")
    if not rep.active:
        raise CannotReassign(f"rep {rep.id} is switched off: switch them on first")
    await move(
        session, assignment=assignment, rep=rep, standing=None, at=at, kind="reassigned", details=details
    )
    log.info("routing.lead_reassigned", extra={"assignment_id": str(assignment.id), "rep_id": str(rep.id)})
    return HandoverRead(
        assignment=AssignmentRead.model_validate(assignment), from_rep_id=from_rep, to_rep_id=rep.id
    )


async def _take_for_handover(
    session: AsyncSession,
    assignment_id: uuid.UUID,
    *,
    actor: Actor,
    kind: str,
    allowed: frozenset[str],
) -> Assignment:
    """The assignment, locked, once the actor may hand it over and its status allows `kind`.
    The pool lock comes first, in the order every decision takes its locks."""
    await LedgerRepository(session).enter_pool(exclusive=False)
    assignment = await _locked(session, assignment_id)
    await check_may_act(session, holder=assignment.rep_id, actor=actor)
    check_handover(assignment.status, kind, allowed)
    return assignment


async def _locked(session: AsyncSession, assignment_id: uuid.UUID) -> Assignment:
    assignment = await AssignmentRepository(session).lock(assignment_id)
    if assignment is None:
        raise AssignmentNotFound(f"no assignment {assignment_id}")
    return assignment


def _handover_read(assignment: Assignment, *, from_rep: uuid.UUID, decision: Decision) -> HandoverRead:
    chosen = decision.chosen
    return HandoverRead(
        assignment=AssignmentRead.model_validate(assignment),
        from_rep_id=from_rep,
        to_rep_id=chosen.id if chosen else None,
        queued=chosen is None,
        queue=None if chosen else decision.queue,
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
        session, at=at, lead=assignment.lead, qualification=qualification_of(assignment), excluding=excluding
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
    _record(assignment, kind=kind, at=at, from_rep=from_rep, to_rep=rep.id, details=details)
    await session.flush()
    await hand_over(
        session, assignment=assignment, rep=rep, standing=standing, at=at, caused_by=None, start_clock=restart
    )


async def queue_assignment(
    session: AsyncSession, *, assignment: Assignment, decision: Decision, at: datetime, kind: str
) -> None:
    """Nobody can take a handed-back lead: it waits in its pool's fallback queue (the retry
    routes it again, away from the rep who gave it back), and the alert is raised."""
    await SlaTimerRepository(session).settle_pending([assignment.id], outcome="cancelled", at=at)
    assignment.status = "queued"
    _record(
        assignment,
        kind=kind,
        at=at,
        from_rep=assignment.rep_id,
        to_rep=None,
        details={"queue": decision.queue},
    )
    await session.flush()
    queued = await FallbackQueueRepository(session).enqueue(
        lead_id=assignment.lead_id,
        event={"assignment_id": str(assignment.id), "handed_back_by": str(assignment.rep_id)},
        pool=decision.queue,
        reason="handed_back",
        decision=decision.trace,
        at=at,
    )
    if queued:
        LEADS_QUEUED.labels(decision.queue, "handed_back").inc()
        log.warning(
            "routing.no_eligible_rep",
            extra={
                "lead_id": str(assignment.lead_id),
                "pool": decision.queue,
                "rule": decision.trace.get("rule"),
                "handed_back_by": str(assignment.rep_id),
                "skipped": decision.trace.get("skipped"),
            },
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
) -> None:
    """What follows every (re)assignment: credit the pool's ledger (a rep a rule or a manager
    named directly took no turn in any rotation), count the rep's day, start their SLA timer
    (unless the lead was answered already), and stage `lead.assigned`."""
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
    await add_event(session, outbox, assigned_event(assignment, rep, at=at, caused_by=caused_by))
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


def _record(
    assignment: Assignment,
    *,
    kind: str,
    at: datetime,
    from_rep: uuid.UUID,
    to_rep: uuid.UUID | None,
    details: Mapping[str, Any] | None,
) -> None:
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
