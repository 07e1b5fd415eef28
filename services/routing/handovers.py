"""The hand-overs a rep or a manager asks for: a rep declines a lead, a manager reassigns one.
Both move the lead through `assignment` (the same re-route an SLA breach takes). Transport-free."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.access import Actor, check_may_act, check_on_team
from services.routing.assignment import move, record_handover, reroute
from services.routing.choice import Decision
from services.routing.errors import AssignmentNotFound, CannotReassign, NotYourAssignment, RepNotFound
from services.routing.lifecycle import DECLINABLE, REASSIGNABLE, check_handover
from services.routing.metrics import LEADS_QUEUED
from services.routing.models import Assignment, audit
from services.routing.repository import (
    AssignmentRepository,
    FallbackQueueRepository,
    LedgerRepository,
    RepRepository,
)
from services.routing.rule_versions import ActiveRules
from services.routing.schemas import AssignmentRead, DeclineCreate, HandoverRead, ReassignCreate
from services.routing.sla_repository import SlaTimerRepository
from shared.audit import record_change
from shared.contracts import utc_now

log = logging.getLogger(__name__)


async def decline_assignment(
    session: AsyncSession,
    *,
    rules: ActiveRules,
    assignment_id: uuid.UUID,
    decline: DeclineCreate,
    actor: Actor,
    by: str,
) -> HandoverRead:
    """The rep hands an open lead back: the rules route it again, to anyone but them, with a
    fresh SLA clock; with nobody to take it, it waits in the fallback queue."""
    assignment = await _take_for_handover(
        session, assignment_id, actor=actor, kind="declined", allowed=DECLINABLE
    )
    from_rep, status_before = assignment.rep_id, assignment.status
    details = {"reason": decline.reason, "by": by}
    at = utc_now()
    decision = await reroute(
        session,
        rules=rules,
        assignment=assignment,
        at=at,
        excluding=from_rep,
        kind="declined",
        details=details,
    )
    if decision.chosen is None:
        await queue_assignment(
            session, assignment=assignment, decision=decision, at=at, kind="declined", details=details
        )
    log.info("routing.lead_declined", extra={"assignment_id": str(assignment.id), "rep_id": str(from_rep)})
    read = _handover_read(assignment, from_rep=from_rep, decision=decision)
    await _record(session, by=by, action="assignment.declined", status_before=status_before, read=read)
    return read


async def reassign_assignment(
    session: AsyncSession,
    *,
    rules: ActiveRules,
    assignment_id: uuid.UUID,
    reassign: ReassignCreate,
    actor: Actor,
    by: str,
) -> HandoverRead:
    """A manager moves a lead to a named rep of their team, or lets the rules pick anyone but
    its holder (the fallback queue when nobody can). A named rep takes no turn in any rotation."""
    if actor.is_rep:
        raise NotYourAssignment("only a manager or an admin reassigns leads")
    assignment = await _take_for_handover(
        session, assignment_id, actor=actor, kind="reassigned", allowed=REASSIGNABLE
    )
    from_rep, status_before = assignment.rep_id, assignment.status
    details = {"reason": reassign.reason, "by": by}
    at = utc_now()
    if reassign.rep_id is None:
        decision = await reroute(
            session,
            rules=rules,
            assignment=assignment,
            at=at,
            excluding=from_rep,
            kind="reassigned",
            details=details,
        )
        if decision.chosen is None and assignment.status != "queued":
            await queue_assignment(
                session, assignment=assignment, decision=decision, at=at, kind="reassigned", details=details
            )
        read = _handover_read(assignment, from_rep=from_rep, decision=decision)
        await _record(session, by=by, action="assignment.reassigned", status_before=status_before, read=read)
        return read
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
    read = HandoverRead(
        assignment=AssignmentRead.model_validate(assignment), from_rep_id=from_rep, to_rep_id=rep.id
    )
    await _record(session, by=by, action="assignment.reassigned", status_before=status_before, read=read)
    return read


async def _record(
    session: AsyncSession, *, by: str, action: str, status_before: str, read: HandoverRead
) -> None:
    """Ids and statuses only: the assignment's lead snapshot is the lead's personal data, and the
    free-text reason may quote it (both stay on the assignment, where erasure reaches them)."""
    assignment = read.assignment
    await record_change(
        session,
        audit,
        actor=by,
        action=action,
        object_type="assignment",
        object_id=str(assignment.id),
        before={"lead_id": assignment.lead_id, "rep_id": read.from_rep_id, "status": status_before},
        after={
            "lead_id": assignment.lead_id,
            "rep_id": read.to_rep_id,
            "status": assignment.status,
            "queue": read.queue,
        },
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


async def queue_assignment(
    session: AsyncSession,
    *,
    assignment: Assignment,
    decision: Decision,
    at: datetime,
    kind: str,
    details: Mapping[str, Any],
) -> None:
    """Nobody can take a handed-back lead: it waits in its pool's fallback queue (the retry
    routes it again, away from the rep who gave it back), and the alert is raised. The trace
    keeps who handed it back and why (`details`), as a move to another rep does."""
    await SlaTimerRepository(session).settle_pending([assignment.id], outcome="cancelled", at=at)
    assignment.status = "queued"
    record_handover(
        assignment,
        kind=kind,
        at=at,
        from_rep=assignment.rep_id,
        to_rep=None,
        details={**details, "queue": decision.queue},
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
