"""Routing's assignment use cases: qualified leads to reps, the fallback queue, the preview.
No transport here: the caller owns the session and its transaction."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import outbound
from services.routing.choice import Decision
from services.routing.decision import decide
from services.routing.handovers import PRODUCER as PRODUCER
from services.routing.handovers import hand_over, reroute
from services.routing.handovers import sla_due_at_for as sla_due_at_for
from services.routing.metrics import DECISION_SECONDS, LEADS_QUEUED
from services.routing.models import Assignment
from services.routing.repository import (
    AssignmentRepository,
    ErasureRepository,
    FallbackQueueRepository,
    LedgerRepository,
)
from services.routing.schemas import RoutingPreview, RoutingPreviewCreate
from shared.contracts import LeadErased, LeadQualified, utc_now

log = logging.getLogger(__name__)


async def erase_lead(session: AsyncSession, *, event: LeadErased) -> None:
    """Honour an erasure: assignments keep their facts, lose the person."""
    await ErasureRepository(session).erase_lead(event.lead_id)
    await outbound.forget_lead(session, lead_id=event.lead_id)


DRAIN_BATCH = 100


@dataclass(frozen=True)
class AssignOutcome:
    result: Literal["assigned", "already_assigned", "queued"]
    assignment: Assignment | None = None
    queue: str | None = None


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
    """Assign leads waiting in the fallback queues, oldest first, while reps can take them.

    Once a queue's lead finds nobody, the rest of that queue waits for the next retry; other
    queues (other pools, other rules) are still tried.
    """
    queue = FallbackQueueRepository(session)
    assigned = 0
    stuck: set[str] = set()
    for waiting in await queue.claim_oldest(limit=limit):
        if waiting.pool in stuck:
            continue
        existing = await AssignmentRepository(session).by_lead(waiting.lead_id)
        if existing is not None:
            existing = await AssignmentRepository(session).lock(existing.id)
        if existing is not None and existing.status == "queued":
            # Handed back with nobody to take it: routed again, away from the rep who gave it back.
            decision = await reroute(
                session,
                assignment=existing,
                at=utc_now(),
                excluding=existing.rep_id,
                kind="from_fallback_queue",
            )
            if decision.chosen is None:
                stuck.update({waiting.pool, decision.queue})
                continue
            assigned += 1
            continue
        if existing is not None:
            # A later qualification of the same lead found a rep first.
            await queue.remove(waiting.lead_id)
            continue
        event = LeadQualified.model_validate(waiting.event)
        outcome = await _assign(session, event=event, queued_at=waiting.queued_at)
        if outcome.result == "queued":
            stuck.update({waiting.pool, outcome.queue or waiting.pool})
            continue
        await queue.remove(waiting.lead_id)
        assigned += outcome.result == "assigned"
    if assigned:
        log.info("routing.fallback_queue_drained", extra={"assigned": assigned})
    return assigned


async def retry_fallback_queue(session: AsyncSession) -> int:
    """Try the fallback queue again (working hours begin, caps free up); cheap when empty."""
    if await FallbackQueueRepository(session).size() == 0:
        return 0
    await LedgerRepository(session).enter_pool(exclusive=True)
    return await assign_queued_leads(session)


async def preview_assignment(session: AsyncSession, *, preview: RoutingPreviewCreate) -> RoutingPreview:
    """Who would get this lead if it qualified at `preview.at` (default now), by which rule,
    and why, without assigning it or moving any ledger."""
    decision = await decide(
        session,
        at=preview.at or utc_now(),
        lead=preview.lead.model_dump(mode="json"),
        qualification=preview.qualification(),
        lock=False,
    )
    return RoutingPreview.model_validate(decision.trace)


def qualification_facts(event: LeadQualified) -> dict[str, str | float]:
    """The verdict the rules test besides the lead's snapshot."""
    payload = event.payload
    return {"grade": payload.grade, "score": payload.score, "sla_tier": payload.sla_tier}


async def _assign(
    session: AsyncSession, *, event: LeadQualified, queued_at: datetime | None
) -> AssignOutcome:
    assignments = AssignmentRepository(session)
    now = utc_now()
    payload = event.payload
    lead = payload.lead.model_dump(mode="json")
    with DECISION_SECONDS.time():
        decision = await decide(session, at=now, lead=lead, qualification=qualification_facts(event))
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
