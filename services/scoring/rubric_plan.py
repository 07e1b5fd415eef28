"""The agreement's plan: sales' revenue goal for the period, the funnel rates both teams agree
to plan with, and marketing's MQL commitment derived from them (the reverse funnel).

Marketing's number is never typed in: it is computed from sales' number, so changing the goal
or a rate changes the commitment both teams sign. The arithmetic is exact (fractions) and each
need is rounded up only at the end, so a commitment is never one short by a float's error.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Self

from pydantic import BaseModel, Field, model_validator

from services.scoring.rubric_sections import Strict
from shared.contracts import PlannedRate

Rate = float


class Money(Strict):
    amount: Decimal = Field(gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")


class PlanningRate(Strict):
    """A conversion rate both teams plan with; `measured`, `low` and `high` record what the
    history showed when it was agreed (the rate and its confidence interval), for the record."""

    rate: Rate = Field(gt=0, le=1)
    measured: Rate | None = Field(default=None, ge=0, le=1)
    low: Rate | None = Field(default=None, ge=0, le=1)
    high: Rate | None = Field(default=None, ge=0, le=1)


class PlanningRates(Strict):
    mql_to_sql: PlanningRate
    sql_to_won: PlanningRate
    lead_to_mql: PlanningRate | None = None

    def planned(self) -> dict[str, PlannedRate]:
        """The rates as `rubric.activated` carries them, for feedback to check drift against."""
        rates = {
            "mql_to_sql": self.mql_to_sql,
            "sql_to_won": self.sql_to_won,
            "lead_to_mql": self.lead_to_mql,
        }
        return {
            name: PlannedRate(rate=r.rate, low=r.low, high=r.high)
            for name, r in rates.items()
            if r is not None
        }


class Plan(Strict):
    """The period's plan both teams sign: sales' revenue goal, the rates they plan with and the
    quality commitment; marketing's MQL commitment is derived from it (`derive`), never typed."""

    period_start: date
    period_end: date
    revenue_goal: Money
    average_deal_size: Money
    rates: PlanningRates
    acceptance_commitment: Rate = Field(
        gt=0, le=1, description="Marketing's quality commitment: the share of its MQLs sales accepts."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        if self.average_deal_size.currency != self.revenue_goal.currency:
            raise ValueError(
                f"average_deal_size is in {self.average_deal_size.currency} but the revenue goal is in "
                f"{self.revenue_goal.currency}: amounts in different currencies are never divided"
            )
        return self

    def derive(self) -> PlanDerivation:
        """Walk back from the goal: won deals, then SQLs, then MQLs (and leads, given that rate)."""
        deals = Fraction(self.revenue_goal.amount) / Fraction(self.average_deal_size.amount)
        sqls = deals / Fraction(self.rates.sql_to_won.rate)
        mqls = sqls / Fraction(self.rates.mql_to_sql.rate)
        leads = mqls / Fraction(self.rates.lead_to_mql.rate) if self.rates.lead_to_mql else None
        return PlanDerivation(
            revenue_goal=self.revenue_goal,
            won_deals_needed=math.ceil(deals),
            sqls_needed=math.ceil(sqls),
            mql_commitment=math.ceil(mqls),
            accepted_mqls_committed=math.ceil(mqls * Fraction(self.acceptance_commitment)),
            leads_needed=math.ceil(leads) if leads is not None else None,
            acceptance_commitment=self.acceptance_commitment,
            period_start=self.period_start,
            period_end=self.period_end,
        )


class PlanDerivation(BaseModel):
    """Marketing's commitment as derived from sales' goal; shown with every version."""

    period_start: date
    period_end: date
    revenue_goal: Money
    won_deals_needed: int
    sqls_needed: int
    mql_commitment: int = Field(description="MQLs marketing commits to deliver over the period.")
    acceptance_commitment: Rate
    accepted_mqls_committed: int = Field(description="Of those, how many sales is expected to accept.")
    leads_needed: int | None = None
