"""Drift: a measured rate outside the interval the agreement was planned with proposes a revised
plan, with marketing's MQL commitment re-derived from the same goal."""

from __future__ import annotations

from decimal import Decimal

from services.feedback.drift import mql_commitment, propose
from services.feedback.funnel import Stage
from services.feedback.planning import RateEstimate
from shared.contracts import AgreementTerms, PlannedRate

TERMS = AgreementTerms(
    revenue_goal=Decimal(1_200_000),
    average_deal_size=Decimal(30_000),
    currency="EUR",
    mql_commitment=400,
    planning_rates={
        "mql_to_sql": PlannedRate(rate=0.4, low=0.31, high=0.45),
        "sql_to_won": PlannedRate(rate=0.25),
    },
)


def measured(name: str, reached: int, started: int) -> RateEstimate:
    return RateEstimate(name, Stage.MQL, Stage.SQL, reached, started)


def test_the_signed_numbers_rederive_the_signed_commitment() -> None:
    assert mql_commitment(TERMS, TERMS.planning_rates) == 400


def test_a_rate_inside_its_planned_interval_is_no_drift() -> None:
    assert propose(TERMS, [measured("mql_to_sql", 40, 100)], min_leads=50) is None


def test_a_rate_below_its_interval_proposes_a_higher_mql_commitment() -> None:
    proposal = propose(TERMS, [measured("mql_to_sql", 20, 100)], min_leads=50)

    assert proposal is not None
    (drift,) = proposal.drifted
    assert (drift.name, drift.planned, drift.measured) == ("mql_to_sql", 0.4, 0.2)
    assert drift.low < 0.2 < drift.high
    assert proposal.rates["mql_to_sql"].rate == 0.2
    assert proposal.rates["sql_to_won"].rate == 0.25
    # 40 deals, 160 SQLs, at 20 % MQL→SQL: 800 MQLs.
    assert (proposal.mql_commitment_before, proposal.mql_commitment_after) == (400, 800)


def test_too_few_leads_are_no_evidence_of_drift() -> None:
    assert propose(TERMS, [measured("mql_to_sql", 2, 10)], min_leads=50) is None


def test_without_a_recorded_interval_the_measured_interval_decides() -> None:
    inside = propose(TERMS, [measured("sql_to_won", 26, 100)], min_leads=50)
    outside = propose(TERMS, [measured("sql_to_won", 50, 100)], min_leads=50)

    assert inside is None
    assert outside is not None
    assert outside.mql_commitment_after == 200


def test_a_rate_nobody_reached_is_not_planned_with() -> None:
    assert propose(TERMS, [measured("sql_to_won", 0, 100)], min_leads=50) is None
