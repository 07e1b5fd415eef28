"""Reps' work on their assignments: reading queues, logging touches, recording outcomes.
Transport-free."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import commitments
from services.routing.access import Actor, check_may_act
from services.routing.briefs import with_briefs
from services.routing.errors import (
    AssignmentNotFound,
    IllegalTransition,
    LeadNotAssigned,
    NotYourAssignment,
    RepNotFound,
)
from services.routing.lifecycle import NEXT_STATUSES, check_details, check_transition
from services.routing.models import Disposition, Touch, outbox
from services.routing.repository import (
    AssignmentRepository,
    DispositionRepository,
    FallbackQueueRepository,
    RepRepository,
)
from services.routing.schemas import AssignmentRead, DispositionCreate, DispositionRead, TouchCreate
from services.routing.sla_repository import SlaTimerRepository
from shared.contracts import (
    REASON_LABELS,
    LeadDispositioned,
    LeadDispositionedPayload,
    LeadTouched,
    LeadTouchedPayload,
    utc_now,
)
from shared.outbox import add_event

log = logging.getLogger(__name__)

PRODUCER = "routing"


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
    return (await with_briefs(session, [assignment]))[0]


async def rep_queue(
    session: AsyncSession, *, rep_id: uuid.UUID, acting_rep: uuid.UUID | None, statuses: Sequence[str]
) -> list[AssignmentRead]:
    """The rep's assignments in `statuses`, most urgent SLA first."""
    _check_owner(rep_id, acting_rep)
    if await RepRepository(session).get(rep_id) is None:
        raise RepNotFound(f"no rep {rep_id}")
    rows = await AssignmentRepository(session).for_rep(rep_id, statuses=statuses)
    return await with_briefs(session, rows)


async def record_disposition(
    session: AsyncSession,
    *,
    assignment_id: uuid.UUID,
    disposition: DispositionCreate,
    actor: Actor,
    recorded_by: str,
    default_currency: str,
) -> DispositionRead:
    """Record a rep's outcome for an assignment and stage `lead.dispositioned`.

    A disposition is not a touch (accepting is not contact): it stops no first-touch clock, only
    the accept commitment's. A closing one (rejected, won, lost, recycled) settles every timer
    and frees the rep's capacity, as only open leads count; dropping a lead as unresponsive or
    recycled needs the attempts, over the business days, the agreement commits sales to.
    """
    assignment = await AssignmentRepository(session).lock(assignment_id)
    if assignment is None:
        raise AssignmentNotFound(f"no assignment {assignment_id}")
    await check_may_act(session, holder=assignment.rep_id, actor=actor)
    note = disposition.free_text
    check_details(
        disposition.outcome,
        reason_code=disposition.reason_code,
        note=note,
        has_amount=disposition.amount is not None,
        has_currency=disposition.currency is not None,
    )
    check_transition(assignment.status, disposition.outcome)
    commitment = await commitments.commitment_for(session, assignment.sla_tier)
    now = utc_now()
    await commitments.check_may_drop(
        session,
        assignment,
        outcome=disposition.outcome,
        reason_code=disposition.reason_code,
        commitment=commitment,
        now=now,
    )

    code = disposition.reason_code
    reason = note or (REASON_LABELS.get(code, code) if code else None)
    currency = None if disposition.amount is None else disposition.currency or default_currency
    event = LeadDispositioned(
        producer=PRODUCER,
        lead_id=assignment.lead_id,
        correlation_id=assignment.correlation_id,
        occurred_at=now,
        payload=LeadDispositionedPayload(
            assignment_id=assignment.id,
            rep_id=assignment.rep_id,
            outcome=disposition.outcome,
            reason=reason,
            reason_code=code,
            amount=disposition.amount,
            currency=currency,
            dispositioned_at=now,
        ),
    )
    row = Disposition(
        id=uuid.uuid4(),
        assignment_id=assignment.id,
        rep_id=assignment.rep_id,
        outcome=disposition.outcome,
        reason=reason,
        reason_code=code,
        note=note,
        amount=disposition.amount,
        currency=currency,
        recorded_by=recorded_by,
        recorded_at=now,
        event_id=event.event_id,
    )
    await DispositionRepository(session).add(row)
    # A disposition is no touch: accepting a lead is not contacting it, so the first-touch
    # clock keeps running until a touch is logged, and the contact commitment starts.
    await AssignmentRepository(session).record_outcome(
        assignment, status=disposition.outcome, first_touch_at=None
    )
    if not NEXT_STATUSES[disposition.outcome]:
        await _stop_sla_clock(session, assignment_id=assignment.id, at=now)
    else:
        # Any outcome answers the lead: the time to accept or reject has done its work.
        await _stop_sla_clock(session, assignment_id=assignment.id, at=now, kinds=commitments.ACCEPT_KINDS)
        if disposition.outcome == "accepted":
            await commitments.start_contact_clock(session, assignment=assignment, commitment=commitment)
    await add_event(session, outbox, event)
    log.info(
        "routing.lead_dispositioned",
        extra={"assignment_id": str(assignment.id), "outcome": disposition.outcome, "reason_code": code},
    )
    return DispositionRead.model_validate(row)


async def log_touch(
    session: AsyncSession,
    *,
    assignment_id: uuid.UUID,
    touch: TouchCreate,
    actor: Actor,
) -> AssignmentRead:
    """Log a contact attempt and stage `lead.touched`. The first touch stops the SLA clock."""
    assignment = await AssignmentRepository(session).lock(assignment_id)
    if assignment is None:
        raise AssignmentNotFound(f"no assignment {assignment_id}")
    await check_may_act(session, holder=assignment.rep_id, actor=actor)
    if not NEXT_STATUSES[assignment.status]:
        raise IllegalTransition(assignment.status, "touched", ())
    now = utc_now()
    await DispositionRepository(session).add(
        Touch(
            id=uuid.uuid4(),
            assignment_id=assignment.id,
            rep_id=assignment.rep_id,
            channel=touch.channel,
            note=touch.note,
            touched_at=now,
        )
    )
    commitments.record_attempt(assignment, channel=touch.channel, at=now)
    await AssignmentRepository(session).record_outcome(
        assignment, status=assignment.status, first_touch_at=now
    )
    await _stop_sla_clock(session, assignment_id=assignment.id, at=now, kinds=("breach", "reminder"))
    if assignment.first_contact_at == now:
        await _stop_sla_clock(session, assignment_id=assignment.id, at=now, kinds=("contact",))
    touched = LeadTouched(
        producer=PRODUCER,
        lead_id=assignment.lead_id,
        correlation_id=assignment.correlation_id,
        occurred_at=now,
        payload=LeadTouchedPayload(
            assignment_id=assignment.id,
            rep_id=assignment.rep_id,
            channel=touch.channel,
            note=touch.note,
            touched_at=now,
        ),
    )
    await add_event(session, outbox, touched)
    log.info("routing.lead_touched", extra={"assignment_id": str(assignment.id), "channel": touch.channel})
    return AssignmentRead.model_validate(assignment)


async def _stop_sla_clock(
    session: AsyncSession, *, assignment_id: uuid.UUID, at: datetime, kinds: Sequence[str | None] = (None,)
) -> None:
    """Settle the assignment's pending timers of `kinds` (None: all) so none will fire: the first
    touch settles the first-touch deadline and its reminders, the first real contact the
    contact commitment, and closing the lead everything."""
    timers = SlaTimerRepository(session)
    cancelled = 0
    for kind in kinds:
        cancelled += await timers.settle_pending([assignment_id], outcome="cancelled", at=at, kind=kind)
    if cancelled:
        log.info(
            "routing.sla_clock_stopped", extra={"assignment_id": str(assignment_id), "timers": cancelled}
        )


def _check_owner(rep_id: uuid.UUID, acting_rep: uuid.UUID | None) -> None:
    if acting_rep is not None and acting_rep != rep_id:
        raise NotYourAssignment("a rep may only see and act on their own assignments")
