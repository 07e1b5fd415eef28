"""The way back, in routing: a re-MQL (a lead sales handed back to nurture that qualified again
after the agreement's cool-down) is routed again.

A lead keeps its one assignment row (lead ids are unique there): the closed assignment starts
its next round with whoever the rules choose now, a fresh SLA clock, no touches and no
attempts; the rounds before are kept in its decision trace, so the first qualification is never
confused with the re-MQL. Transport-free.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import batch
from services.routing.assignment import (
    AssignOutcome,
    assign_lead,
    assignment_values,
    hand_over,
    qualification_facts,
    queue_lead,
    sla_due_at_for,
)
from services.routing.decision import decide
from services.routing.models import Assignment
from services.routing.repository import AssignmentRepository, LedgerRepository
from services.routing.rule_versions import ActiveRules
from shared.contracts import LeadQualified, utc_now

log = logging.getLogger(__name__)

# The statuses sales hands a lead back to nurture with; only those can come round again.
RETURNED: Final = frozenset({"recycled", "rejected"})


def round_of(assignment: Assignment) -> int:
    round_ = assignment.decision.get("qualification_round", 1)
    return round_ if isinstance(round_, int) else 1


def comes_round_again(event: LeadQualified, existing: Assignment | None) -> bool:
    """Whether `event` is a re-MQL of a lead whose assignment closed in an earlier round."""
    payload = event.payload
    return (
        existing is not None
        and payload.requalification
        and existing.status in RETURNED
        and payload.round > round_of(existing)
    )


async def assign_qualified(
    session: AsyncSession, *, rules: ActiveRules, events: Sequence[LeadQualified]
) -> None:
    """A consumer's batch of `lead.qualified`: first qualifications assigned as one batch, each
    re-MQL (rare) routed again on its own."""
    first = [e for e in events if not e.payload.requalification]
    if first:
        await batch.assign_leads(session, rules=rules, events=first)
    for event in events:
        if event.payload.requalification:
            await assign_qualified_lead(session, rules=rules, event=event)


async def assign_qualified_lead(
    session: AsyncSession, *, rules: ActiveRules, event: LeadQualified
) -> AssignOutcome:
    """`assign_lead`, except that a re-MQL of a lead whose assignment closed starts its next round."""
    existing = await AssignmentRepository(session).by_lead(event.lead_id)
    if existing is not None and comes_round_again(event, existing):
        await LedgerRepository(session).enter_pool(exclusive=False)
        return await route_again(session, rules=rules, event=event, existing=existing)
    return await assign_lead(session, rules=rules, event=event)


async def route_again(
    session: AsyncSession,
    *,
    rules: ActiveRules,
    event: LeadQualified,
    existing: Assignment,
    queued_at: datetime | None = None,
) -> AssignOutcome:
    """Start the closed assignment's next round with the rep the rules choose now; with nobody
    to take it, the re-MQL waits in the fallback queue (since `queued_at`, on a retry)."""
    now, payload = utc_now(), event.payload
    lead = payload.lead.model_dump(mode="json")
    decision = await decide(session, rules=rules, at=now, lead=lead, qualification=qualification_facts(event))
    if decision.chosen is None:
        if queued_at is None:
            await queue_lead(session, event=event, decision=decision, at=now)
        return AssignOutcome("queued", queue=decision.queue)
    rep = decision.chosen
    # As for a first qualification: a lead that waited in the fallback queue starts its clock now.
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
        assignment_id=existing.id,
    )
    earlier: list[dict[str, Any]] = [*existing.decision.get("rounds", []), _round_record(existing)]
    values["decision"] = {**values["decision"], "qualification_round": payload.round, "rounds": earlier}
    for name, value in values.items():
        setattr(existing, name, value)
    existing.sla_breached_at = existing.first_touch_at = None
    existing.first_contact_at = existing.contact_breached_at = existing.first_attempt_at = None
    existing.attempts = 0
    await session.flush()
    await hand_over(
        session, assignment=existing, rep=rep, standing=decision.standing, at=now, caused_by=event
    )
    log.info(
        "routing.lead_routed_again",
        extra={"lead_id": str(event.lead_id), "round": payload.round, "rep_id": str(rep.id)},
    )
    return AssignOutcome("assigned", existing)


def _round_record(assignment: Assignment) -> dict[str, Any]:
    """What an earlier round came to, kept when the lead comes round again."""
    return {
        "round": round_of(assignment),
        "rep_id": str(assignment.rep_id),
        "status": assignment.status,
        "assigned_at": assignment.assigned_at.isoformat(),
        "qualified_at": assignment.qualified_at.isoformat(),
        "qualified_event_id": str(assignment.qualified_event_id),
    }
