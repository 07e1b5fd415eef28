"""Sales' commitments from the agreement both teams signed, enforced where reps work.

Routing learns the agreement from `rubric.activated` (the latest activation is in force).
A first real contact is a logged call, email or meeting; accepting a lead is not one. A lead
may be rejected as unresponsive, or recycled to nurture, only after the attempts its tier's
commitment owes it, over the window of business days it promises; an accepted lead nobody
contacts in time breaches the contact commitment (an SLA timer of kind `contact`), and a lead
its holder neither accepts nor rejects in time the accept commitment (kind `accept`, with an
`accept_reminder` halfway). Transport-free.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.calendar import (
    HolidaysFrom,
    add_business_days,
    add_business_minutes,
    business_days_until,
)
from services.routing.choice import availability_of
from services.routing.eligibility import RepAvailability
from services.routing.errors import CommitmentNotMet
from services.routing.models import Agreement, Assignment, Rep
from services.routing.repository import RepRepository
from services.routing.sla_repository import HolidayRepository, SlaTimerRepository
from shared.contracts import AgreementTerms, RubricActivated, TierCommitment

log = logging.getLogger(__name__)

CONTACT_CHANNELS: Final = frozenset({"call", "email", "meeting"})
UNRESPONSIVE: Final = "unresponsive"
# The holder hears once, halfway through the time to accept or reject.
ACCEPT_REMINDER_AT: Final = 0.5
ACCEPT_KINDS: Final = ("accept", "accept_reminder")
DAY: Final = timedelta(days=1)


async def learn_agreement(session: AsyncSession, *, event: RubricActivated) -> None:
    """Keep the activated agreement's terms; a replayed activation changes nothing."""
    payload = event.payload
    if payload.agreement is None:
        return
    statement = (
        insert(Agreement)
        .values(
            rubric_version=payload.rubric_version,
            terms=payload.agreement.model_dump(mode="json"),
            activated_at=payload.activated_at,
        )
        .on_conflict_do_nothing(index_elements=[Agreement.rubric_version])
    )
    await session.execute(statement)
    log.info("routing.agreement_learned", extra={"rubric_version": payload.rubric_version})


async def terms_in_force(session: AsyncSession) -> AgreementTerms | None:
    row = await session.scalar(select(Agreement).order_by(Agreement.activated_at.desc()).limit(1))
    return AgreementTerms.model_validate(row.terms) if row else None


async def commitment_for(session: AsyncSession, tier: str) -> TierCommitment | None:
    """The commitment of the agreement in force for this SLA tier, if any."""
    terms = await terms_in_force(session)
    return next((t for t in terms.tiers if t.tier == tier), None) if terms else None


def drops(outcome: str, reason_code: str | None) -> bool:
    """Whether an outcome drops the lead as unresponsive: rejected for that reason, or recycled."""
    return outcome == "recycled" or (outcome == "rejected" and reason_code == UNRESPONSIVE)


def unmet_before_drop(
    commitment: TierCommitment,
    *,
    attempts: int,
    first_attempt_at: datetime | None,
    now: datetime,
    calendar: RepAvailability,
    holidays: Collection[date] = (),
) -> list[dict[str, Any]]:
    """What the commitment still owes a lead before it may be dropped as unresponsive; empty
    when nothing.

    The rule: `min_attempts` logged attempts, and the window of `attempt_business_days` of the
    rep's business days (their working days, minus holidays) that opens at the first attempt
    has elapsed. Attempts made in a shorter span count, but the lead keeps its window: an
    unreachable lead gets the days the agreement promised it. (Attempts that span the window
    imply it has elapsed, so one test covers both.) Without attempts owed, no window holds.
    """
    unmet: list[dict[str, Any]] = []
    if commitment.min_attempts <= 0:
        return unmet
    if attempts < commitment.min_attempts:
        unmet.append(
            {
                "term": "min_attempts",
                "required": commitment.min_attempts,
                "logged": attempts,
                "short_by": commitment.min_attempts - attempts,
            }
        )
    days = commitment.attempt_business_days
    if not days:
        return unmet
    window: dict[str, Any] = {"term": "attempt_business_days", "business_days": days}
    if first_attempt_at is None:
        # Only a lead with no attempt yet (rows from before the first attempt was kept have it
        # backfilled): its window has not even opened.
        if attempts == 0:
            unmet.append({**window, "business_days_remaining": days, "window_ends_at": None})
        return unmet
    try:
        ends_at = add_business_days(first_attempt_at, days, rep=calendar, holidays=holidays)
        remaining = business_days_until(now, ends_at, rep=calendar, holidays=holidays)
    except ValueError:
        # A rep with no working day at all: count calendar days rather than hold the lead forever.
        ends_at = first_attempt_at + timedelta(days=days)
        remaining = max(0, (ends_at.date() - now.date()).days)
    if now < ends_at:
        unmet.append({**window, "business_days_remaining": remaining, "window_ends_at": ends_at.isoformat()})
    return unmet


async def check_may_drop(
    session: AsyncSession,
    assignment: Assignment,
    *,
    outcome: str,
    reason_code: str | None,
    commitment: TierCommitment | None,
    now: datetime,
) -> None:
    """Raise `CommitmentNotMet` (409, naming the commitment and listing what is `unmet`) when
    the lead is dropped as unresponsive or recycled before its tier's attempt commitment is
    kept, reckoned in the holding rep's business days."""
    if commitment is None or not drops(outcome, reason_code):
        return
    calendar = RepAvailability(rep_id=assignment.rep_id, active=True)
    holidays: frozenset[date] = frozenset()
    if commitment.attempt_business_days and assignment.first_attempt_at is not None:
        rep = await RepRepository(session).get(assignment.rep_id)
        calendar = availability_of(rep, 0) if rep is not None else calendar
        holidays = await HolidayRepository(session).days_from(assignment.first_attempt_at.date() - DAY)
    unmet = unmet_before_drop(
        commitment,
        attempts=assignment.attempts,
        first_attempt_at=assignment.first_attempt_at,
        now=now,
        calendar=calendar,
        holidays=holidays,
    )
    if not unmet:
        return
    window = (
        f" within {commitment.attempt_business_days} business days"
        if commitment.attempt_business_days
        else ""
    )
    raise CommitmentNotMet(
        f"the agreement commits sales to {commitment.min_attempts} attempts{window} for tier "
        f"{commitment.tier!r} before a lead is dropped as {'recycled' if outcome == 'recycled' else UNRESPONSIVE}; "
        f"{assignment.attempts} logged so far; still owed: {'; '.join(_owed(term) for term in unmet)}",
        commitment="min_attempts",
        tier=commitment.tier,
        min_attempts=commitment.min_attempts,
        attempt_business_days=commitment.attempt_business_days,
        attempts=assignment.attempts,
        unmet=unmet,
    )


def _owed(term: dict[str, Any]) -> str:
    if term["term"] == "min_attempts":
        return f"{term['short_by']} more attempt(s)"
    if term["window_ends_at"] is None:
        return f"{term['business_days']} business days from the first attempt"
    return f"{term['business_days_remaining']} more business day(s), until {term['window_ends_at']}"


def record_attempt(assignment: Assignment, *, channel: str, at: datetime) -> None:
    """Every logged touch is an attempt; a call, email or meeting is also the first real contact."""
    assignment.attempts += 1
    if assignment.first_attempt_at is None:
        assignment.first_attempt_at = at
    if channel in CONTACT_CHANNELS and assignment.first_contact_at is None:
        assignment.first_contact_at = at


async def start_contact_clock(
    session: AsyncSession, *, assignment: Assignment, commitment: TierCommitment | None
) -> None:
    """On acceptance: the contact commitment runs from the lead's qualification, so a lead
    accepted late and still not contacted breaches at once."""
    if commitment is None or commitment.contact_minutes is None or assignment.first_contact_at is not None:
        return
    await SlaTimerRepository(session).schedule(
        assignment_id=assignment.id,
        rep_id=assignment.rep_id,
        due_at=assignment.qualified_at + timedelta(minutes=commitment.contact_minutes),
        kind="contact",
    )


def still_uncontacted(assignment: Assignment, rep_id: object) -> bool:
    """Whether a contact timer still has something to say when it fires."""
    return (
        assignment.status in ("open", "accepted")
        and assignment.first_contact_at is None
        and assignment.rep_id == rep_id
    )


@dataclass(frozen=True)
class Hold:
    """A rep's new hold on a lead nobody has answered yet: its accept clock starts at `at`."""

    assignment_id: uuid.UUID
    rep: Rep
    sla_tier: str
    at: datetime


async def start_accept_clocks(session: AsyncSession, holds: Sequence[Hold]) -> int:
    """On a (re)assignment of an unanswered lead: the agreement's time to accept or reject runs
    in the new holder's business time (their hours, minus holidays, as the first-touch SLA)
    from when they got it, with one reminder halfway. Returns the clocks started."""
    if not holds:
        return 0
    terms = await terms_in_force(session)
    windows = {t.tier: t.accept_minutes for t in terms.tiers if t.accept_minutes} if terms else {}
    held = [hold for hold in holds if hold.sla_tier in windows]
    if not held:
        return 0
    holidays = HolidaysFrom(await HolidayRepository(session).days_from(min(h.at for h in held).date() - DAY))
    timers: list[dict[str, Any]] = []
    for hold in held:
        calendar, minutes, since = (
            availability_of(hold.rep, 0),
            windows[hold.sla_tier],
            holidays.since(hold.at),
        )
        try:
            due = add_business_minutes(hold.at, minutes, rep=calendar, holidays=since)
            halfway = add_business_minutes(
                hold.at, ACCEPT_REMINDER_AT * minutes, rep=calendar, holidays=since
            )
        except ValueError:
            log.warning("routing.accept_clock_unplannable", extra={"assignment_id": str(hold.assignment_id)})
            continue
        common = {"assignment_id": hold.assignment_id, "rep_id": hold.rep.id}
        timers.append({**common, "kind": "accept", "due_at": due})
        timers.append(
            {**common, "kind": "accept_reminder", "due_at": halfway, "fraction": ACCEPT_REMINDER_AT}
        )
    await SlaTimerRepository(session).schedule_all(timers)
    return len(timers) // 2


def awaiting_answer(assignment: Assignment, rep_id: object) -> bool:
    """Whether an accept timer (or its reminder) still has something to say when it fires: the
    rep it ran for still holds the lead and has recorded no outcome."""
    return assignment.status == "open" and assignment.rep_id == rep_id
