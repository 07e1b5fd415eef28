"""What a breach sets off, by the SLA policy: the next eligible rep takes the lead over, the
team's channel and the rep's manager hear of it, and a rep who keeps breaching is paused.
Transport-free; runs in the timer worker's transaction."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import notifications
from services.routing.assignment import reroute
from services.routing.metrics import REPS_PAUSED
from services.routing.models import Assignment, Rep, SlaTimer
from services.routing.policy import SlaPolicy
from services.routing.repository import LedgerRepository, RepRepository
from services.routing.rule_versions import ActiveRules
from services.routing.sla_repository import SlaTimerRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Escalation:
    """What a breach set off; `notifications` are for the caller to write with its batch."""

    reassigned_to: uuid.UUID | None = None
    manager_notified: uuid.UUID | None = None
    paused: bool = False
    notifications: list[dict[str, Any]] = field(default_factory=list)


async def escalate_breach(
    session: AsyncSession,
    *,
    rules: ActiveRules,
    assignment: Assignment,
    breached: SlaTimer,
    rep: Rep | None,
    policy: SlaPolicy,
    at: datetime,
    missed: str = "did not touch",
) -> Escalation:
    """Run the escalation policy for a breached timer of a locked assignment held by `rep`
    (`missed`: what the rep failed to do, as the team's channel reads it)."""
    taken_over_by = None
    if assignment.reassignments < policy.max_reassignments:
        taken_over_by = await _reassign(session, rules=rules, assignment=assignment, breached=breached, at=at)
    manager_id = rep.manager_id if rep is not None and policy.notify_manager else None
    if taken_over_by is None:
        _record_escalation(assignment, breached=breached, to_rep=None, manager_id=manager_id, at=at)
    else:
        _record_escalation(
            assignment, breached=breached, to_rep=str(taken_over_by.id), manager_id=manager_id, at=at
        )
    outgoing = [
        notifications.notification(
            kind="sla.breached",
            message=notifications.breach_message(
                assignment, rep, due_at=breached.due_at, taken_over_by=taken_over_by, missed=missed
            ),
            deliver=policy.deliver_notifications,
            at=at,
            assignment=assignment,
            rep=rep,
        )
    ]
    if manager_id is not None:
        outgoing.append(
            notifications.notification(
                kind="sla.escalated",
                message=notifications.manager_message(
                    assignment, rep, manager_id=manager_id, due_at=breached.due_at
                ),
                deliver=policy.deliver_notifications,
                at=at,
                assignment=assignment,
                rep=rep,
                manager_id=manager_id,
            )
        )
    paused = await _pause_repeat_breacher(session, rep_id=breached.rep_id, policy=policy, at=at)
    if paused is not None:
        outgoing.append(paused)
    return Escalation(
        reassigned_to=taken_over_by.id if taken_over_by else None,
        manager_notified=manager_id,
        paused=paused is not None,
        notifications=outgoing,
    )


async def _reassign(
    session: AsyncSession, *, rules: ActiveRules, assignment: Assignment, breached: SlaTimer, at: datetime
) -> Rep | None:
    """Hand the lead to the next eligible rep of its own rule; returns that rep, or None if nobody
    can. The breach settles the timers itself."""
    await LedgerRepository(session).enter_pool(exclusive=False)
    decision = await reroute(
        session,
        rules=rules,
        assignment=assignment,
        at=at,
        excluding=assignment.rep_id,
        kind="escalated",
        cancel_timers=False,
        details={"breached_due_at": breached.due_at.isoformat()},
    )
    if decision.chosen is None:
        # Nobody else can take it: the lead stays with its rep rather than going unowned.
        log.warning("routing.sla_escalation_failed", extra={"assignment_id": str(assignment.id)})
    return decision.chosen


def _record_escalation(
    assignment: Assignment,
    *,
    breached: SlaTimer,
    to_rep: str | None,
    manager_id: uuid.UUID | None,
    at: datetime,
) -> None:
    escalation = {
        "breached_at": at.isoformat(),
        "due_at": breached.due_at.isoformat(),
        "from_rep": str(breached.rep_id),
        "to_rep": to_rep,
        "manager_notified": str(manager_id) if manager_id else None,
    }
    # A new dict, so the ORM sees the JSONB change.
    assignment.decision = {
        **assignment.decision,
        "escalations": [*assignment.decision.get("escalations", []), escalation],
    }


async def _pause_repeat_breacher(
    session: AsyncSession, *, rep_id: uuid.UUID, policy: SlaPolicy, at: datetime
) -> dict[str, Any] | None:
    """Switch the rep off once their breaches within the window reach the policy's limit;
    returns the notification that says so, or None if the rep stays on."""
    if policy.pause_after_breaches <= 0:
        return None
    breaches = await SlaTimerRepository(session).count_breaches(rep_id, since=at - policy.pause_window)
    if breaches < policy.pause_after_breaches:
        return None
    rep = await RepRepository(session).lock(rep_id)
    if rep is None or not rep.active:
        return None
    hours = policy.pause_window.total_seconds() / 3600
    reason = f"{breaches} SLA breaches within {hours:g} h"
    rep.active = False
    rep.paused_at = at
    rep.paused_reason = reason
    await session.flush()
    REPS_PAUSED.inc()
    log.warning("routing.rep_paused", extra={"rep_id": str(rep.id), "reason": reason, "breaches": breaches})
    return notifications.notification(
        kind="rep.paused",
        message=notifications.paused_message(rep, reason=reason),
        deliver=policy.deliver_notifications,
        at=at,
        rep=rep,
        manager_id=rep.manager_id,
    )
