"""The agreement feedback reports against, learned from `rubric.activated`: marketing's MQL
commitment comes from the version both teams signed (derived there from sales' revenue goal),
not from a setting nobody signs. Transport-free.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.drift import DriftProposal, propose
from services.feedback.drift_repository import DriftRepository
from services.feedback.funnel import count_stages
from services.feedback.models import Agreement, AgreementDrift, outbox
from services.feedback.money import Fx
from services.feedback.planning import PlanningEvidence, planning_rates
from services.feedback.repository import FactFilter, FunnelRepository
from services.feedback.revenue_repository import RevenueRepository
from services.feedback.scorecard_repository import ScorecardRepository
from services.feedback.scorecards import Scorecards, period_of, scorecards
from shared.contracts import NO_LEAD, AgreementTerms, RubricActivated
from shared.contracts.revisions import (
    AgreementRevisionProposed,
    AgreementRevisionProposedPayload,
    DriftedRate,
)
from shared.outbox import add_event


@dataclass(frozen=True)
class SignedTarget:
    """Marketing's monthly number and where it came from."""

    monthly_target: int | None
    rubric_version: str | None
    acceptance_commitment: float | None = None


async def learn_agreement(session: AsyncSession, event: RubricActivated) -> None:
    """Keep the activated agreement's terms; a replayed activation changes nothing."""
    payload = event.payload
    if payload.agreement is None:
        return
    await session.execute(
        insert(Agreement)
        .values(
            rubric_version=payload.rubric_version,
            terms=payload.agreement.model_dump(mode="json"),
            activated_at=payload.activated_at,
        )
        .on_conflict_do_nothing(index_elements=[Agreement.rubric_version])
    )


async def signed_target(session: AsyncSession, *, configured: int | None) -> SignedTarget:
    """The monthly MQL target of the agreement in force (its commitment spread evenly over the
    months of its period, rounded up), else the configured one."""
    row = await session.scalar(select(Agreement).order_by(Agreement.activated_at.desc()).limit(1))
    terms = AgreementTerms.model_validate(row.terms) if row else None
    if row is None or terms is None or terms.mql_commitment is None:
        return SignedTarget(configured, None)
    months = _months(terms.period_start, terms.period_end)
    return SignedTarget(
        math.ceil(terms.mql_commitment / months), row.rubric_version, terms.acceptance_commitment
    )


def _months(start: date | None, end: date | None) -> int:
    if start is None or end is None:
        return 1
    return max(1, (end.year - start.year) * 12 + end.month - start.month + 1)


async def scorecards_report(session: AsyncSession, *, now: datetime) -> Scorecards:
    """Marketing's and sales' scorecards side by side, against the agreement in force, for its
    period and per ISO week of it (without an agreement: the current month, no commitments)."""
    facts = ScorecardRepository(session)
    signed = await facts.agreement_in_force()
    version, terms = signed if signed else (None, None)
    start, end = period_of(terms, now)
    return scorecards(
        terms,
        rubric_version=version,
        start=start,
        end=end,
        marketing=await facts.mqls(start, end),
        sales=await facts.assignments(start, end),
        now=now,
    )


async def planning_evidence(session: AsyncSession, where: FactFilter, *, fx: Fx) -> PlanningEvidence:
    """The measured funnel rates with their Wilson intervals and the average won deal: what a
    draft agreement's planning rates are pre-filled from."""
    counts = count_stages(
        (stages, n) for _, stages, n in await FunnelRepository(session).stage_signatures(where)
    )
    won = await RevenueRepository(session).won_revenue(where, fx=fx)
    return PlanningEvidence(
        rates=planning_rates(counts),
        currency=fx.reporting,
        deals_with_amount=won.deals_with_amount,
        average_deal=won.revenue / won.deals_with_amount if won.deals_with_amount else None,
        rates_used=won.rates_used,
    )


async def check_drift(session: AsyncSession, *, min_leads: int, now: datetime) -> AgreementDrift | None:
    """Measure the planning rates over the leads of the agreement's period and, when one has left
    the interval the agreement was planned with, keep one open proposal of a revised plan for
    both teams (a later check updates it; a new agreement supersedes it). Returns the open one.

    Opening a proposal stages `revision.proposed` in the same transaction, for scoring
    to open as a draft: feedback holds no credentials for scoring's API, and needs none."""
    drifts = DriftRepository(session)
    signed = await ScorecardRepository(session).agreement_in_force()
    current = await drifts.open_proposal()
    if signed is None or not signed[1].planning_rates:
        return current
    version, terms = signed
    start, _ = period_of(terms, now)
    where = FactFilter(ingested_from=datetime.combine(start, time(), tzinfo=UTC))
    counts = count_stages(
        (stages, n) for _, stages, n in await FunnelRepository(session).stage_signatures(where)
    )
    proposal = propose(terms, planning_rates(counts), min_leads=min_leads)
    if current is not None and (proposal is None or current.rubric_version != version):
        current.status = "resolved" if current.rubric_version == version else "superseded"
        current.checked_at = now
        await session.flush()
        current = None
    if proposal is None:
        return None
    if current is None:
        current = AgreementDrift(id=uuid.uuid4(), rubric_version=version, status="open", detected_at=now)
        _fill(current, proposal, now)
        await drifts.add(current)
        await add_event(session, outbox, _proposed(current))
    else:
        _fill(current, proposal, now)
        await session.flush()
    return current


def _fill(row: AgreementDrift, proposal: DriftProposal, now: datetime) -> None:
    row.checked_at = now
    row.drifted = [asdict(d) for d in proposal.drifted]
    row.rates = {name: rate.model_dump(mode="json") for name, rate in proposal.rates.items()}
    row.mql_commitment_before = proposal.mql_commitment_before
    row.mql_commitment_after = proposal.mql_commitment_after


def _proposed(row: AgreementDrift) -> AgreementRevisionProposed:
    payload = AgreementRevisionProposedPayload(
        proposal_id=row.id,
        agreement_version=row.rubric_version,
        drifted=[DriftedRate.model_validate(d) for d in row.drifted],
        rates=row.rates,
        mql_commitment_before=row.mql_commitment_before,
        mql_commitment_after=row.mql_commitment_after,
        detected_at=row.detected_at,
    )
    return AgreementRevisionProposed.new(lead_id=NO_LEAD, producer="feedback", payload=payload)


async def drift_proposals(session: AsyncSession, *, limit: int = 20) -> list[AgreementDrift]:
    return await DriftRepository(session).latest(limit=limit)
