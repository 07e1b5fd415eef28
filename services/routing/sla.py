"""SLA use cases: fire due first-touch timers once, mark the breach, escalate. Transport-free."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.decision import decide
from services.routing.metrics import SLA_BREACHES, SLA_FIRING_LATENESS_SECONDS
from services.routing.models import Assignment, SlaTimer, outbox
from services.routing.repository import AssignmentRepository, LedgerRepository, SlaTimerRepository
from services.routing.service import PRODUCER, hand_over, sla_due_at_for
from shared.contracts import SlaBreached, SlaBreachedPayload
from shared.outbox import add_event

log = logging.getLogger(__name__)


async def fire_due_sla_timers(
    session: AsyncSession, *, now: datetime, limit: int, max_reassignments: int
) -> tuple[int, int]:
    """Fire every timer due by `now` (up to `limit`); returns (timers fired, breaches).

    A timer whose rep already touched the lead, or no longer holds it, fires as moot. A breach
    is recorded on the assignment and, up to `max_reassignments` times per lead, the lead goes
    to the next eligible rep with a fresh SLA window.
    """
    timers = SlaTimerRepository(session)
    breaches = 0
    due = await timers.claim_due(now=now, limit=limit)
    for timer in due:
        SLA_FIRING_LATENESS_SECONDS.observe(max(0.0, (now - timer.due_at).total_seconds()))
        assignment = await AssignmentRepository(session).lock(timer.assignment_id)
        assert assignment is not None  # the foreign key guarantees it
        if not _still_waiting(assignment, timer):
            await timers.mark_fired(timer, outcome="moot", at=now)
            continue
        await timers.mark_fired(timer, outcome="breached", at=now)
        breaches += 1
        SLA_BREACHES.labels(assignment.sla_tier).inc()
        if assignment.sla_breached_at is None:
            assignment.sla_breached_at = now
        log.warning(
            "routing.sla_breached",
            extra={
                "lead_id": str(assignment.lead_id),
                "assignment_id": str(assignment.id),
                "rep_id": str(timer.rep_id),
                "sla_tier": assignment.sla_tier,
                "due_at": timer.due_at.isoformat(),
                "late_by_s": (now - timer.due_at).total_seconds(),
            },
        )
        reassigned_to = None
        if assignment.reassignments < max_reassignments:
            reassigned_to = await _reassign(session, assignment=assignment, breached=timer, at=now)
        else:
            _record_escalation(assignment, breached=timer, to_rep=None, at=now)
        await add_event(
            session,
            outbox,
            SlaBreached.new(
                lead_id=assignment.lead_id,
                producer=PRODUCER,
                payload=SlaBreachedPayload(
                    assignment_id=assignment.id,
                    rep_id=timer.rep_id,
                    sla_tier=assignment.sla_tier,
                    due_at=timer.due_at,
                    breached_at=now,
                    reassigned_to=reassigned_to,
                ),
            ),
        )
    return len(due), breaches


def _still_waiting(assignment: Assignment, timer: SlaTimer) -> bool:
    return (
        assignment.status == "open"
        and assignment.first_touch_at is None
        and assignment.rep_id == timer.rep_id
    )


async def _reassign(
    session: AsyncSession, *, assignment: Assignment, breached: SlaTimer, at: datetime
) -> uuid.UUID | None:
    """Hand the lead to the next eligible rep; returns that rep's id, or None if nobody can."""
    await LedgerRepository(session).enter_pool(exclusive=False)
    decision = await decide(session, at=at, excluding=assignment.rep_id)
    if decision.chosen is None or decision.standing is None:
        # Nobody else can take it: the lead stays with its rep rather than going unowned.
        log.warning("routing.sla_escalation_failed", extra={"assignment_id": str(assignment.id)})
        _record_escalation(assignment, breached=breached, to_rep=None, at=at)
        return None
    rep = decision.chosen
    _record_escalation(assignment, breached=breached, to_rep=str(rep.id), at=at)
    assignment.rep_id = rep.id
    assignment.assigned_at = at
    assignment.sla_due_at = await sla_due_at_for(session, rep=rep, start=at, minutes=assignment.sla_minutes)
    assignment.reassignments += 1
    await session.flush()
    await hand_over(
        session, assignment=assignment, rep=rep, standing=decision.standing, at=at, caused_by=None
    )
    return rep.id


def _record_escalation(
    assignment: Assignment, *, breached: SlaTimer, to_rep: str | None, at: datetime
) -> None:
    escalation = {
        "breached_at": at.isoformat(),
        "due_at": breached.due_at.isoformat(),
        "from_rep": str(breached.rep_id),
        "to_rep": to_rep,
    }
    # A new dict, so the ORM sees the JSONB change.
    assignment.decision = {
        **assignment.decision,
        "escalations": [*assignment.decision.get("escalations", []), escalation],
    }
