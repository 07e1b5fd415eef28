"""Sales' commitments from the agreement both teams signed, enforced where reps work.

Routing learns the agreement from `rubric.activated` (the latest activation is in force).
A first real contact is a logged call, email or meeting; accepting a lead is not one. A lead
may be rejected as unresponsive, or recycled to nurture, only after the attempts its tier's
commitment owes it; and an accepted lead nobody contacts in time breaches the contact
commitment (an SLA timer of kind `contact`). Transport-free.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.errors import CommitmentNotMet
from services.routing.models import Agreement, Assignment
from services.routing.sla_repository import SlaTimerRepository
from shared.contracts import AgreementTerms, RubricActivated, TierCommitment

log = logging.getLogger(__name__)

CONTACT_CHANNELS: Final = frozenset({"call", "email", "meeting"})
UNRESPONSIVE: Final = "unresponsive"


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


def check_may_drop(
    assignment: Assignment, *, outcome: str, reason_code: str | None, commitment: TierCommitment | None
) -> None:
    """Raise `CommitmentNotMet` (409, naming the commitment) when the lead is dropped as
    unresponsive or recycled with fewer attempts than its tier's commitment owes it."""
    dropping = outcome == "recycled" or (outcome == "rejected" and reason_code == UNRESPONSIVE)
    if not dropping or commitment is None or assignment.attempts >= commitment.min_attempts:
        return
    window = (
        f" within {commitment.attempt_business_days} business days"
        if commitment.attempt_business_days
        else ""
    )
    raise CommitmentNotMet(
        f"the agreement commits sales to {commitment.min_attempts} attempts{window} for tier "
        f"{commitment.tier!r} before a lead is dropped as {'recycled' if outcome == 'recycled' else UNRESPONSIVE}; "
        f"{assignment.attempts} logged so far",
        commitment="min_attempts",
        tier=commitment.tier,
        min_attempts=commitment.min_attempts,
        attempt_business_days=commitment.attempt_business_days,
        attempts=assignment.attempts,
    )


def record_attempt(assignment: Assignment, *, channel: str, at: datetime) -> None:
    """Every logged touch is an attempt; a call, email or meeting is also the first real contact."""
    assignment.attempts += 1
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
