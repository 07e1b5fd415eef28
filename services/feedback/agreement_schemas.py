"""HTTP models of the agreement's reports: the scorecards and the planning rates."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.feedback.planning import PlanningEvidence
from services.feedback.revenue_schemas import money
from services.feedback.scorecards import Pace, Scorecards


class _FromAttributes(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class MarketingCardRead(_FromAttributes):
    delivered: int = Field(description="MQLs first qualified in the period (or week).")
    commitment: int | None = Field(description="MQLs the signed agreement commits to (a week: its share).")
    expected_to_date: int | None = Field(description="The commitment spread evenly over the days elapsed.")
    accepted: int
    rejected: int
    acceptance_rate: float | None = Field(description="Accepted among the MQLs sales has judged.")
    acceptance_commitment: float | None = Field(description="The signed quality commitment.")
    forecast: int | None = Field(description="MQLs at the period's end at the pace so far (linear).")
    pace: Pace | None = Field(description="`on_track` when the forecast reaches the commitment.")


class MeasureRead(_FromAttributes):
    commitment: int | None = Field(description="The tier's commitment: minutes, or attempts.")
    measured: int = Field(description="Leads the commitment was kept or broken for.")
    within: int = Field(description="Of those, leads within the commitment.")
    pending: int = Field(description="Leads still waiting whose time is not up yet.")
    share_within: float | None
    p50: float | None = Field(description="Median minutes (or attempts) of the leads that got there.")


class TierCardRead(_FromAttributes):
    tier: str
    leads: int = Field(description="Leads assigned in the period under this tier.")
    accept: MeasureRead = Field(description="Assignment to acceptance or rejection (the click).")
    contact: MeasureRead = Field(description="Assignment to the first real contact (call, email, meeting).")
    attempts: MeasureRead = Field(
        description="Logged attempts against the minimum owed before a lead is dropped (rejected or recycled): "
        "judged on the dropped leads; those still worked are pending."
    )


class WeekRead(_FromAttributes):
    week: str = Field(description="ISO week, e.g. `2027-W01`.")
    start: date = Field(description="Its first day within the period.")
    marketing: MarketingCardRead
    sales: list[TierCardRead]


class ScorecardsRead(_FromAttributes):
    agreement_version: str | None = Field(
        validation_alias="rubric_version", description="The signed version reported against."
    )
    period_start: date
    period_end: date
    as_of: datetime
    marketing: MarketingCardRead
    sales: list[TierCardRead]
    weeks: list[WeekRead]

    @classmethod
    def of(cls, cards: Scorecards) -> ScorecardsRead:
        return cls.model_validate(cards)


class RateEstimateRead(BaseModel):
    name: str = Field(description="`lead_to_mql`, `mql_to_sal`, `sal_to_sql`, `mql_to_sql` or `sql_to_won`.")
    reached: int
    started: int
    rate: float | None
    low: float | None = Field(description="Lower end of the Wilson 95 % interval.")
    high: float | None = Field(description="Upper end of the Wilson 95 % interval.")


class PlanningRatesRead(BaseModel):
    rates: list[RateEstimateRead]
    currency: str = Field(description="The reporting currency of `average_deal`.")
    deals_with_amount: int
    average_deal: float | None
    fx_rates: dict[str, float] = Field(description="Units of `currency` per unit of each deal currency.")

    @classmethod
    def of(cls, evidence: PlanningEvidence) -> PlanningRatesRead:
        rates = []
        for r in evidence.rates:
            low, high = r.interval or (None, None)
            rates.append(
                RateEstimateRead(
                    name=r.name, reached=r.reached, started=r.started, rate=r.rate, low=low, high=high
                )
            )
        return cls(
            rates=rates,
            currency=evidence.currency,
            deals_with_amount=evidence.deals_with_amount,
            average_deal=None if evidence.average_deal is None else money(evidence.average_deal),
            fx_rates={c: float(v) for c, v in evidence.rates_used.items()},
        )


class RateDriftRead(BaseModel):
    name: str
    planned: float = Field(description="The rate the agreement plans with.")
    planned_low: float | None = Field(description="The interval it was planned with, if recorded.")
    planned_high: float | None
    measured: float = Field(description="The rate measured over the leads of the agreement's period.")
    low: float = Field(description="Lower end of the measured rate's Wilson 95 % interval.")
    high: float
    reached: int
    started: int


class PlannedRateRead(BaseModel):
    rate: float
    low: float | None = None
    high: float | None = None


class DriftProposalRead(_FromAttributes):
    id: uuid.UUID
    agreement_version: str = Field(validation_alias="rubric_version", description="The version that drifted.")
    status: Literal["open", "resolved", "superseded"]
    detected_at: datetime
    checked_at: datetime = Field(description="The latest check that confirmed (or closed) it.")
    drifted: list[RateDriftRead]
    rates: dict[str, PlannedRateRead] = Field(description="The revised rates to plan with, by name.")
    mql_commitment_before: int | None
    mql_commitment_after: int | None = Field(
        description="Marketing's commitment re-derived from the same goal."
    )


class DriftProposalsRead(BaseModel):
    proposals: list[DriftProposalRead] = Field(
        description="The open proposal first (at most one), then past ones."
    )
