"""Feedback's use cases. No transport here: the caller owns the session and its transaction.

Recording use cases fold one event into the lead's fact row and only flush; report use cases
read aggregates from the repository and hand them to the pure modules (`funnel`, `pareto`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.attribution import (
    KEYS,
    AttributionKey,
    attribute,
    touch_from_activity,
    touch_from_ingestion,
)
from services.feedback.candidates import DISCOVERABLE_FIELDS, profile_of
from services.feedback.errors import NotEnoughHistory
from services.feedback.fact_repository import LeadFactRepository
from services.feedback.funnel import Funnel, Stage, count_stages, funnel_from_signatures
from services.feedback.hand_raisers import HandRaiserReport, hand_raiser_report
from services.feedback.money import DEFAULT_CURRENCY, Fx
from services.feedback.pareto import pareto
from services.feedback.reports import (
    Attribution,
    Dimension,
    FunnelGroup,
    MqlMonth,
    Reasons,
    SlaShare,
    SlaTally,
    Speed,
)
from services.feedback.repository import FactFilter, FunnelRepository, OutcomeRepository, ScoredLead
from services.feedback.revenue_repository import RevenueRepository
from services.feedback.reverse_funnel import Plan, measured_rates, missing_measurements, plan
from services.feedback.review import DraftReview, DraftSource, review
from services.feedback.tuning import (
    TUNABLE_KINDS,
    Observation,
    Policy,
    rule_evidence,
)
from services.feedback.write_buffer import buffered_writes
from shared.contracts import (
    REASON_LABELS,
    ActivityRecorded,
    LeadAssigned,
    LeadDispositioned,
    LeadErased,
    LeadIngested,
    LeadQualified,
    LeadScored,
    LeadTouched,
)
from shared.contracts.envelope import Envelope
from shared.contracts.rounds import rounds_by_lead

E = TypeVar("E", bound=Envelope)

# A first real contact, as the agreement defines it: accepting a lead is not one.
CONTACT_CHANNELS = frozenset({"call", "email", "meeting"})

OUTCOME_STAGES: dict[str, Stage] = {
    "accepted": Stage.ACCEPTED,
    "rejected": Stage.REJECTED,
    "sql": Stage.SQL,
    "won": Stage.WON,
    "lost": Stage.LOST,
    "recycled": Stage.RECYCLED,
}


async def record_batch(
    session: AsyncSession, events: Sequence[E], *, record: Callable[[AsyncSession, E], Awaitable[None]]
) -> None:
    """Fold a consumer batch with `record`, the use case of its event type, to the same effect as
    `record` on each event in turn: in rounds of one event per lead, each round's writes sent as
    one statement per kind of write."""
    for round_ in rounds_by_lead(events):
        async with buffered_writes(session):
            for event in round_:
                await record(session, event)


async def record_ingested(session: AsyncSession, event: LeadIngested) -> None:
    """Start (or complete) the lead's fact with where it came from; the first ingestion wins."""
    p = event.payload
    await LeadFactRepository(session).record_ingestion(
        event.lead_id,
        ingested_at=p.submitted_at,
        source=p.source,
        form_id=p.form_id,
        campaign=p.utm.get("campaign"),
        utm=dict(p.utm),
        is_test=p.is_test,
        profile=profile_of(p.model_dump(include={*DISCOVERABLE_FIELDS, "email", "attributes"})),
    )
    touch = touch_from_ingestion(
        submitted_at=p.submitted_at, source=p.source, utm=p.utm, attributes=p.attributes
    )
    await RevenueRepository(session).record_touch(event.lead_id, touch)


async def record_activity(session: AsyncSession, event: ActivityRecorded) -> None:
    """Keep an activity that carried campaign or UTM data as one of the lead's touches."""
    p = event.payload
    touch = touch_from_activity(
        occurred_at=p.occurred_at, activity_type=p.activity_type, properties=p.properties
    )
    if touch is not None:
        await RevenueRepository(session).record_touch(event.lead_id, touch)


async def record_scored(session: AsyncSession, event: LeadScored) -> None:
    """Keep the latest score; a score that makes the lead an MQL also marks that stage."""
    p = event.payload
    facts = LeadFactRepository(session)
    await facts.record_scoring(
        event.lead_id,
        scored_at=event.occurred_at,
        score=p.score,
        grade=p.grade,
        rubric_version=p.rubric_version,
        fired_rules=[{"rule_id": r.rule_id, "kind": r.kind, "points": r.points} for r in p.fired_rules],
        persona=p.persona,
    )
    if p.is_mql:
        await facts.record_qualification(
            event.lead_id,
            qualified_at=event.occurred_at,
            grade=p.grade,
            rubric_version=p.rubric_version,
            sla_tier=None,
        )


async def record_qualified(session: AsyncSession, event: LeadQualified) -> None:
    """Mark the lead an MQL with the rubric verdict and SLA tier that sent it to sales; a re-MQL
    (back from nurture) is counted as one, apart from its first qualification."""
    p = event.payload
    if p.requalification:
        await LeadFactRepository(session).record_requalification(
            event.lead_id, requalified_at=p.qualified_at, round_=p.round
        )
        return
    await LeadFactRepository(session).record_qualification(
        event.lead_id,
        qualified_at=p.qualified_at,
        grade=p.grade,
        rubric_version=p.rubric_version,
        sla_tier=p.sla_tier,
    )


async def record_assigned(session: AsyncSession, event: LeadAssigned) -> None:
    """Mark the lead assigned; the first assignment names the rep and the SLA deadline."""
    p = event.payload
    await LeadFactRepository(session).record_assignment(
        event.lead_id,
        assigned_at=p.assigned_at,
        assignment_id=p.assignment_id,
        rep_id=p.rep_id,
        sla_tier=p.sla_tier,
        sla_due_at=p.sla_due_at,
    )


async def record_touched(session: AsyncSession, event: LeadTouched) -> None:
    """A rep's contact attempt; the earliest attempt or disposition is the first touch."""
    p = event.payload
    await LeadFactRepository(session).record_touch(
        event.lead_id, touched_at=p.touched_at, channel=p.channel, contact=p.channel in CONTACT_CHANNELS
    )


async def forget_person(session: AsyncSession, event: LeadErased) -> None:
    """An erasure: the lead's counts stay (they name nobody), but the form's own answers and the
    email's domain kept for rule discovery may quote or point at the person, so they go."""
    await LeadFactRepository(session).forget_personal_profile(event.lead_id)


async def record_dispositioned(session: AsyncSession, event: LeadDispositioned) -> None:
    """Mark the outcome's stage; the first disposition of any kind is the rep's first touch.

    A reason code, when the rep gave one, is what the reasons Pareto groups by (under its
    label), so "no budget" and "No budget, call in Q3" count as one reason.
    """
    p = event.payload
    facts = LeadFactRepository(session)
    stage = OUTCOME_STAGES.get(p.outcome)
    if stage is None:
        await facts.record_touch(event.lead_id, touched_at=p.dispositioned_at)
        return
    await facts.record_disposition(
        event.lead_id,
        stage=stage,
        dispositioned_at=p.dispositioned_at,
        reason=REASON_LABELS.get(p.reason_code, p.reason_code) if p.reason_code else p.reason,
        amount=p.amount,
        currency=p.currency,
    )


async def funnel_report(session: AsyncSession, where: FactFilter) -> Funnel:
    """Leads at each stage (a stage reached implies the earlier ones), the conversions and
    the median time each conversion takes."""
    facts = FunnelRepository(session)
    signatures = await facts.stage_signatures(where)
    medians = (await facts.stage_medians(where)).get(None)
    return funnel_from_signatures(((stages, n) for _, stages, n in signatures), medians)


async def funnel_by(session: AsyncSession, where: FactFilter, *, by: Dimension) -> list[FunnelGroup]:
    """The funnel per value of one dimension, largest group first (then by key)."""
    facts = FunnelRepository(session)
    grouped: dict[str | None, list[tuple[frozenset[Stage], int]]] = {}
    for key, stages, n in await facts.stage_signatures(where, by=by):
        grouped.setdefault(key, []).append((stages, n))
    medians = await facts.stage_medians(where, by=by)
    sizes = {key: count_stages(rows)[Stage.INGESTED] for key, rows in grouped.items()}
    order = sorted(grouped, key=lambda k: (-sizes[k], k is None, k or ""))
    return [FunnelGroup(key, funnel_from_signatures(grouped[key], medians.get(key))) for key in order]


async def mql_delivery(
    session: AsyncSession, where: FactFilter, *, monthly_target: int | None
) -> list[MqlMonth]:
    """Marketing's side of the agreement: MQLs delivered each month against the agreed number."""
    facts = FunnelRepository(session)
    months = dict(await facts.mqls_by_month(where))
    re_mqls = dict(await facts.re_mqls_by_month(where))
    return [
        MqlMonth(
            month=month,
            mqls=months.get(month, 0),
            target=monthly_target,
            share_of_target=months.get(month, 0) / monthly_target if monthly_target else None,
            re_mqls=re_mqls.get(month, 0),
        )
        for month in sorted(months.keys() | re_mqls.keys())
    ]


async def speed_to_lead(session: AsyncSession, where: FactFilter, *, by: Dimension | None) -> list[Speed]:
    """System time (form to assignment) and human time (assignment to first touch)."""
    return await FunnelRepository(session).speed_to_lead(where, by=by)


async def sla_attainment(
    session: AsyncSession, where: FactFilter, *, by: Dimension | None, now: datetime
) -> list[SlaShare]:
    """Sales' side of the agreement: the share of assigned leads first touched within their tier.

    Untouched leads past their deadline count as missed; those still within it are pending and
    left out of the share, so the number does not improve by never touching a lead.
    """
    tallies = await FunnelRepository(session).sla_tallies(where, by=by, now=now)
    return [_share(t) for t in tallies]


async def reasons_report(session: AsyncSession, where: FactFilter) -> Reasons:
    """Why sales turns leads down and why deals are lost, most frequent reason first."""
    facts = FunnelRepository(session)
    return Reasons(
        rejected=pareto(await facts.reason_counts(where, stage=Stage.REJECTED)),
        lost=pareto(await facts.reason_counts(where, stage=Stage.LOST)),
    )


async def hand_raiser_conversion(session: AsyncSession, where: FactFilter) -> HandRaiserReport:
    """How hand-raiser MQLs convert per form and per persona, beside the threshold MQLs: whether
    a form earns its place among the agreement's hand-raisers, and from which grade."""
    return hand_raiser_report(await OutcomeRepository(session).mql_tallies(where))


async def revenue_attribution(
    session: AsyncSession, where: FactFilter, *, by: AttributionKey, fx: Fx | None = None
) -> Attribution:
    """Won revenue credited to each source (or campaign) by first touch, last touch and linear,
    each deal converted to the reporting currency first (amounts in different currencies are
    never added as they stand)."""
    fx = fx or Fx(DEFAULT_CURRENCY)
    deals = await RevenueRepository(session).won_deals(where)
    converted = [replace(d, amount=fx.convert(d.amount, d.currency)) for d in deals]
    return Attribution(
        by=by,
        deals=len(deals),
        revenue=sum((d.amount for d in converted), Decimal(0)),
        rows=attribute(converted, by=KEYS[by]),
        currency=fx.reporting,
        rates=fx.used(d.currency for d in deals),
    )


async def reverse_funnel(
    session: AsyncSession, where: FactFilter, *, revenue_goal: Decimal, months: int, fx: Fx | None = None
) -> Plan:
    """Sales' revenue goal turned into the won deals, SQLs, MQLs and leads needed each month,
    from the conversion rates and average deal size measured over the leads `where` covers."""
    counts = count_stages(
        (stages, n) for _, stages, n in await FunnelRepository(session).stage_signatures(where)
    )
    rates = measured_rates(counts)
    fx = fx or Fx(DEFAULT_CURRENCY)
    won = await RevenueRepository(session).won_revenue(where, fx=fx)
    missing = missing_measurements(rates, deals_with_amount=won.deals_with_amount, revenue=won.revenue)
    if missing:
        raise NotEnoughHistory(
            "Not enough history to plan from: " + "; ".join(missing) + ".", missing=missing
        )
    planned = plan(
        rates,
        revenue_goal=revenue_goal,
        months=months,
        deals_with_amount=won.deals_with_amount,
        revenue=won.revenue,
    )
    return replace(planned, currency=fx.reporting, rates_used=won.rates_used)


async def review_drafts(
    session: AsyncSession, where: FactFilter, *, scoring: DraftSource
) -> list[DraftReview]:
    """Each rubric draft awaiting approval with the outcomes of the leads its changed rules fired
    for: the evidence both teams sign on. Read-only: nothing is proposed or submitted here."""
    drafts = await scoring.drafts_awaiting_approval()
    if not drafts:
        return []
    leads = await OutcomeRepository(session).scored_leads(where)
    judged = [observation(lead) for lead in leads if lead.judged]
    return [review(d, rule_evidence(d.document, judged, Policy()), judged) for d in drafts]


def observation(lead: ScoredLead) -> Observation:
    rules = {
        str(r["rule_id"]): float(r["points"])
        for r in lead.fired_rules
        if r.get("kind") in TUNABLE_KINDS and "rule_id" in r
    }
    return Observation(
        rules=rules,
        sql=lead.sql,
        won=lead.won,
        amount=float(lead.amount or 0),
        hand_raiser=any(r.get("rule_id") == "mql.hand_raiser" for r in lead.fired_rules),
        profile=lead.profile,
    )


def _share(tally: SlaTally) -> SlaShare:
    decided = tally.met + tally.missed
    return SlaShare(
        key=tally.key,
        met=tally.met,
        missed=tally.missed,
        pending=tally.pending,
        share_met=tally.met / decided if decided else None,
    )
