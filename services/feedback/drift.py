"""Whether the funnel has drifted from the rates the agreement was planned with, and the revised
commitment it then proposes, as pure logic.

A planned rate drifts when, over at least `min_leads` leads, the measured rate leaves the
interval the plan recorded for it (the Wilson interval measured when both teams agreed); a plan
that recorded no interval drifts when its rate leaves today's measured interval instead. The
proposal plans with the measured rate (and its interval) in place of each drifted one, and
re-derives marketing's MQL commitment from the same goal through the reverse funnel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from services.feedback.planning import RateEstimate
from shared.contracts import AgreementTerms, PlannedRate


@dataclass(frozen=True)
class RateDrift:
    name: str
    planned: float
    planned_low: float | None
    planned_high: float | None
    measured: float
    low: float
    high: float
    reached: int
    started: int


@dataclass(frozen=True)
class DriftProposal:
    """A revised plan for both teams: every planned rate, the drifted ones replaced."""

    drifted: tuple[RateDrift, ...]
    rates: Mapping[str, PlannedRate]
    mql_commitment_before: int | None
    mql_commitment_after: int | None


def drifted_rates(
    planned: Mapping[str, PlannedRate], measured: Sequence[RateEstimate], *, min_leads: int
) -> tuple[RateDrift, ...]:
    drifts = []
    for estimate in measured:
        plan = planned.get(estimate.name)
        interval = estimate.interval
        if plan is None or estimate.rate is None or interval is None or estimate.started < min_leads:
            continue
        if plan.low is not None and plan.high is not None:
            outside = not plan.low <= estimate.rate <= plan.high
        else:
            outside = not interval[0] <= plan.rate <= interval[1]
        if outside:
            drifts.append(
                RateDrift(
                    name=estimate.name,
                    planned=plan.rate,
                    planned_low=plan.low,
                    planned_high=plan.high,
                    measured=estimate.rate,
                    low=interval[0],
                    high=interval[1],
                    reached=estimate.reached,
                    started=estimate.started,
                )
            )
    return tuple(drifts)


def propose(
    terms: AgreementTerms, measured: Sequence[RateEstimate], *, min_leads: int
) -> DriftProposal | None:
    """The revised plan, or None when no planned rate has drifted (or the plan names none)."""
    drifts = drifted_rates(terms.planning_rates, measured, min_leads=min_leads)
    # A measured rate of 0 cannot be planned with: nothing would ever be enough.
    drifts = tuple(d for d in drifts if d.measured > 0)
    if not drifts:
        return None
    rates = dict(terms.planning_rates)
    for d in drifts:
        rates[d.name] = PlannedRate(rate=d.measured, low=d.low, high=d.high)
    return DriftProposal(
        drifted=drifts,
        rates=rates,
        mql_commitment_before=terms.mql_commitment,
        mql_commitment_after=mql_commitment(terms, rates),
    )


def mql_commitment(terms: AgreementTerms, rates: Mapping[str, PlannedRate]) -> int | None:
    """Goal / average deal / SQL→won / MQL→SQL, rounded up only at the end (as scoring derives it)."""
    if terms.revenue_goal is None or not terms.average_deal_size:
        return None
    if "sql_to_won" not in rates or "mql_to_sql" not in rates:
        return None
    deals = Fraction(terms.revenue_goal) / Fraction(terms.average_deal_size)
    return math.ceil(deals / Fraction(rates["sql_to_won"].rate) / Fraction(rates["mql_to_sql"].rate))
