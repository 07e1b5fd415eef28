"""SLA use cases: plan reminders, fire due timers once, mark breaches and escalate them.
Transport-free."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import notifications
from services.routing.assignment import PRODUCER, qualification_of
from services.routing.calendar import HolidaysFrom, add_business_minutes
from services.routing.choice import availability_of
from services.routing.commitments import awaiting_answer, still_uncontacted
from services.routing.escalation import Escalation, escalate_breach
from services.routing.metrics import (
    COMMITMENT_BREACHES,
    COMMITMENT_REMINDERS,
    SLA_BREACHES,
    SLA_FIRING_LATENESS_SECONDS,
    SLA_REMINDERS,
)
from services.routing.models import Assignment, Rep, SlaTimer, outbox
from services.routing.policy import SlaPolicy
from services.routing.rep_notices import notice_rows
from services.routing.repository import RepRepository
from services.routing.rule_versions import ActiveRules
from services.routing.sla_repository import ClockFacts, HolidayRepository, SlaTimerRepository
from shared.contracts import SlaBreached, SlaBreachedPayload, utc_now
from shared.outbox import add_events

log = logging.getLogger(__name__)

DAY = timedelta(days=1)


class Fired(NamedTuple):
    timers: int
    breaches: int
    reminders: int = 0


async def fire_due_sla_timers(
    session: AsyncSession, *, rules: ActiveRules, now: datetime, limit: int, policy: SlaPolicy
) -> Fired:
    """Fire every timer due by `now` (up to `limit`).

    A timer whose rep already touched the lead, or no longer holds it, fires as moot. A due
    reminder is announced; a breach is recorded on the assignment, announced (`sla.breached`
    and a notification) and escalated by `policy`. The agreement's accept commitment (a lead
    neither accepted nor rejected in time) is escalated the same way; its reminder goes to the
    holding rep alone.
    """
    timers = SlaTimerRepository(session)
    breached: list[SlaBreached] = []
    outgoing: list[dict[str, Any]] = []
    contact_breaches: list[SlaBreached] = []
    accept_reminders = 0
    due = await timers.claim_due(now=now, limit=limit)
    # One query for the batch's reps, held here: the session's identity map alone is weak.
    reps = await RepRepository(session).by_ids({timer.rep_id for timer, _ in due})
    for timer, assignment in due:
        SLA_FIRING_LATENESS_SECONDS.observe(max(0.0, (now - timer.due_at).total_seconds()))
        rep = reps.get(timer.rep_id)
        if timer.kind == "reminder":
            outgoing += _remind(session, assignment=assignment, timer=timer, rep=rep, policy=policy, now=now)
        elif timer.kind == "contact":
            contact_breaches += _contact_breach(session, assignment=assignment, timer=timer, now=now)
        elif timer.kind == "accept_reminder":
            reminded = await _accept_reminder(session, assignment=assignment, timer=timer, rep=rep, now=now)
            accept_reminders += reminded is not None
            outgoing += reminded or []
        elif _moot(assignment, timer):
            timers.mark_fired(timer, outcome="moot", at=now)
        else:
            commitment: Literal["first_touch", "accept"] = (
                "accept" if timer.kind == "accept" else "first_touch"
            )
            event, escalation = await _breach(
                session,
                rules=rules,
                assignment=assignment,
                timer=timer,
                rep=rep,
                policy=policy,
                now=now,
                commitment=commitment,
            )
            breached.append(event)
            outgoing += escalation.notifications
    # Once per batch, not per timer: the pending first-touch reminders of leads that breached
    # it, the notifications and the events.
    await timers.settle_pending(
        [e.payload.assignment_id for e in breached if e.payload.commitment == "first_touch"],
        outcome="moot",
        at=now,
        kind="reminder",
    )
    await notifications.record_notifications(session, outgoing)
    await add_events(session, outbox, [*breached, *contact_breaches])
    reminders = sum(n["kind"] == "sla.reminder" and n["channel"] == "team" for n in outgoing)
    return Fired(len(due), len(breached) + len(contact_breaches), reminders + accept_reminders)


async def plan_reminders(session: AsyncSession, *, fractions: tuple[float, ...], limit: int) -> int:
    """Give new breach timers their reminders, at `fractions` of the target in the rep's business
    time; returns how many timers were planned. Reminders that would fall at or after the
    deadline (a zero-minute target, say) are left out."""
    timers = SlaTimerRepository(session)
    unplanned = await timers.claim_unplanned(limit=limit)
    if not unplanned:
        return 0
    # A handful of statements for the whole claim, not a few per timer: every new assignment
    # brings one, so this runs as often as leads are assigned. Only the columns the clock needs
    # are read (not the assignment's lead and decision documents), and nothing goes through the
    # ORM's unit of work: at 100 MQL/s this was the routing process's largest single cost.
    assignments = await timers.clock_facts({t.assignment_id for t in unplanned})
    reps = await RepRepository(session).by_ids({t.rep_id for t in unplanned})
    starts = {a.id: _clock_start(a) for a in assignments.values()}
    holidays = HolidaysFrom(
        await HolidayRepository(session).days_from(min(starts.values(), default=utc_now()).date() - DAY)
    )
    reminders: list[dict[str, Any]] = []
    for timer in unplanned:
        assignment, rep = assignments.get(timer.assignment_id), reps.get(timer.rep_id)
        if assignment is None or rep is None or not _still_waiting(assignment, timer):
            continue
        start = starts[assignment.id]
        calendar = availability_of(rep, 0)
        for fraction in fractions:
            try:
                # As `assignment.sla_due_at_for` reckons it, with the holidays it would read.
                due_at = add_business_minutes(
                    start, fraction * assignment.sla_minutes, rep=calendar, holidays=holidays.since(start)
                )
            except ValueError:
                # The rep's calendar lost all working time since the deadline was set: the
                # deadline still fires, there is just nothing to remind before it.
                log.warning("routing.sla_reminder_unplannable", extra={"timer_id": str(timer.id)})
                break
            if due_at < timer.due_at:
                reminders.append(
                    {"assignment_id": assignment.id, "rep_id": rep.id, "due_at": due_at, "fraction": fraction}
                )
    await timers.mark_planned([t.id for t in unplanned])
    await timers.insert_reminders(reminders)
    return len(unplanned)


def _remind(
    session: AsyncSession,
    *,
    assignment: Assignment,
    timer: SlaTimer,
    rep: Rep | None,
    policy: SlaPolicy,
    now: datetime,
) -> list[dict[str, Any]]:
    """The reminder for the team's webhook and for the rep on the channels they chose."""
    # A reminder after the deadline says nothing the breach does not.
    if not _still_waiting(assignment, timer) or now >= assignment.sla_due_at:
        SlaTimerRepository(session).mark_fired(timer, outcome="moot", at=now)
        return []
    SlaTimerRepository(session).mark_fired(timer, outcome="reminded", at=now)
    SLA_REMINDERS.labels(assignment.sla_tier).inc()
    COMMITMENT_REMINDERS.labels("first_touch", assignment.sla_tier).inc()
    to_rep = (
        notice_rows(
            rep,
            kind="sla.reminder",
            at=now,
            assignment_id=assignment.id,
            lead_id=assignment.lead_id,
            lead=assignment.lead,
            qualification=qualification_of(assignment),
            sla_due_at=assignment.sla_due_at,
            fraction=timer.fraction,
        )
        if rep is not None
        else []
    )
    team = notifications.notification(
        kind="sla.reminder",
        message=notifications.reminder_message(assignment, rep, fraction=timer.fraction or 0.0),
        deliver=policy.deliver_notifications,
        at=now,
        assignment=assignment,
        rep=rep,
    )
    return [team, *to_rep]


async def _breach(
    session: AsyncSession,
    *,
    rules: ActiveRules,
    assignment: Assignment,
    timer: SlaTimer,
    rep: Rep | None,
    policy: SlaPolicy,
    now: datetime,
    commitment: Literal["first_touch", "accept"] = "first_touch",
) -> tuple[SlaBreached, Escalation]:
    """Record and escalate one breach (of the first touch, or of the time to accept or reject);
    returns its event and escalation for the batch to stage."""
    SlaTimerRepository(session).mark_fired(timer, outcome="breached", at=now)
    COMMITMENT_BREACHES.labels(commitment, assignment.sla_tier).inc()
    # `sla_breached_at` and the SLA counter stay the first touch's, as before the agreement.
    if commitment == "first_touch":
        SLA_BREACHES.labels(assignment.sla_tier).inc()
        if assignment.sla_breached_at is None:
            assignment.sla_breached_at = now
    log.warning(
        "routing.sla_breached",
        extra={
            "commitment": commitment,
            "lead_id": str(assignment.lead_id),
            "assignment_id": str(assignment.id),
            "rep_id": str(timer.rep_id),
            "sla_tier": assignment.sla_tier,
            "due_at": timer.due_at.isoformat(),
            "late_by_s": (now - timer.due_at).total_seconds(),
        },
    )
    escalation = await escalate_breach(
        session,
        rules=rules,
        assignment=assignment,
        breached=timer,
        rep=rep,
        policy=policy,
        at=now,
        missed="did not accept or reject" if commitment == "accept" else "did not touch",
    )
    event = SlaBreached.new(
        lead_id=assignment.lead_id,
        producer=PRODUCER,
        payload=SlaBreachedPayload(
            assignment_id=assignment.id,
            rep_id=timer.rep_id,
            sla_tier=assignment.sla_tier,
            due_at=timer.due_at,
            breached_at=now,
            reassigned_to=escalation.reassigned_to,
            commitment=commitment,
        ),
    )
    return event, escalation


def _contact_breach(
    session: AsyncSession, *, assignment: Assignment, timer: SlaTimer, now: datetime
) -> list[SlaBreached]:
    """The agreement's contact commitment, broken: the lead was accepted (or sits open) and
    nobody called, emailed or met it in time. Recorded and announced; not reassigned."""
    if not still_uncontacted(assignment, timer.rep_id):
        SlaTimerRepository(session).mark_fired(timer, outcome="moot", at=now)
        return []
    SlaTimerRepository(session).mark_fired(timer, outcome="breached", at=now)
    COMMITMENT_BREACHES.labels("contact", assignment.sla_tier).inc()
    if assignment.contact_breached_at is None:
        assignment.contact_breached_at = now
    log.warning(
        "routing.contact_commitment_breached",
        extra={"assignment_id": str(assignment.id), "sla_tier": assignment.sla_tier},
    )
    payload = SlaBreachedPayload(
        assignment_id=assignment.id,
        rep_id=timer.rep_id,
        sla_tier=assignment.sla_tier,
        due_at=timer.due_at,
        breached_at=now,
        commitment="contact",
    )
    return [SlaBreached.new(lead_id=assignment.lead_id, producer=PRODUCER, payload=payload)]


async def _accept_reminder(
    session: AsyncSession, *, assignment: Assignment, timer: SlaTimer, rep: Rep | None, now: datetime
) -> list[dict[str, Any]] | None:
    """Halfway to the accept commitment, the holding rep is told (on the channels they chose)
    that the lead still waits for them to accept or reject it; None when it no longer does."""
    timers = SlaTimerRepository(session)
    due_at = await timers.pending_due_at(assignment.id, kind="accept", rep_id=timer.rep_id)
    if rep is None or due_at is None or now >= due_at or not awaiting_answer(assignment, timer.rep_id):
        timers.mark_fired(timer, outcome="moot", at=now)
        return None
    timers.mark_fired(timer, outcome="reminded", at=now)
    COMMITMENT_REMINDERS.labels("accept", assignment.sla_tier).inc()
    return notice_rows(
        rep,
        kind="accept.reminder",
        at=now,
        assignment_id=assignment.id,
        lead_id=assignment.lead_id,
        lead=assignment.lead,
        qualification=qualification_of(assignment),
        sla_due_at=due_at,
        fraction=timer.fraction,
    )


def _moot(assignment: Assignment, timer: SlaTimer) -> bool:
    """Whether a deadline (the first touch's, or the time to accept or reject) was met, or its
    rep no longer holds the lead."""
    if timer.kind == "accept":
        return not awaiting_answer(assignment, timer.rep_id)
    return not _still_waiting(assignment, timer)


class _Holder(Protocol):
    @property
    def rep_id(self) -> uuid.UUID: ...


class _Hold(_Holder, Protocol):
    @property
    def status(self) -> str: ...

    @property
    def first_touch_at(self) -> datetime | None: ...


def _still_waiting(assignment: _Hold, timer: _Holder) -> bool:
    # Accepting is not touching: an accepted lead nobody touched still waits for its first touch.
    return (
        assignment.status in ("open", "accepted", "sql")
        and assignment.first_touch_at is None
        and assignment.rep_id == timer.rep_id
    )


def _clock_start(assignment: ClockFacts) -> datetime:
    """When the current rep's clock started: the reassignment, or the first assignment's start
    (the qualification, or the end of a wait in the fallback queue)."""
    if assignment.reassignments > 0:
        return assignment.assigned_at
    started = assignment.clock_started_at
    return datetime.fromisoformat(started) if isinstance(started, str) else assignment.qualified_at
