"""HTTP models of the revenue reports: attribution and the reverse funnel."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from services.feedback.attribution import AttributionKey
from services.feedback.funnel import Stage
from services.feedback.reports import Attribution
from services.feedback.reverse_funnel import Plan


def money(amount: Decimal) -> float:
    return float(amount.quantize(Decimal("0.01")))


class CreditRead(BaseModel):
    key: str | None = Field(description="The source or campaign; null when the touch had none.")
    deals: int = Field(description="Won deals with at least one touch of this key before the win.")
    first_touch: float = Field(description="Revenue of the deals whose first touch this was.")
    last_touch: float = Field(description="Revenue of the deals whose last touch before the win this was.")
    linear: float = Field(description="Each deal's revenue split equally over its touches.")


class AttributionRead(BaseModel):
    by: AttributionKey
    deals: int = Field(description="Won deals among the leads the filter covers.")
    revenue: float = Field(description="Their revenue; each model's column adds up to it.")
    rows: list[CreditRead]
    currency: str = Field(description="The reporting currency every amount was converted to.")
    fx_rates: dict[str, float] = Field(
        description="The rates used: units of `currency` per unit of each deal currency."
    )

    @classmethod
    def of(cls, report: Attribution) -> AttributionRead:
        return cls(
            by=report.by,
            deals=report.deals,
            revenue=money(report.revenue),
            currency=report.currency,
            fx_rates={c: float(r) for c, r in report.rates.items()},
            rows=[
                CreditRead(
                    key=r.key,
                    deals=r.deals,
                    first_touch=money(r.first_touch),
                    last_touch=money(r.last_touch),
                    linear=money(r.linear),
                )
                for r in report.rows
            ],
        )


class MeasuredRateRead(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_stage: Stage = Field(alias="from")
    to_stage: Stage = Field(alias="to")
    reached: int = Field(description="Leads of the period that reached `to`.")
    started: int = Field(description="Leads of the period that reached `from`.")
    rate: float


class NeedRead(BaseModel):
    stage: Stage = Field(description="won, sql, mql, or ingested (leads).")
    per_month: int = Field(description="Needed each month, rounded up.")
    over_period: int = Field(description="Needed over all `months`, rounded up.")


class ReverseFunnelRead(BaseModel):
    revenue_goal: float
    months: int
    average_deal_size: float = Field(description="Mean amount of the won deals with an amount.")
    deals_measured: int = Field(description="Won deals with an amount behind the average.")
    rates: list[MeasuredRateRead]
    needs: list[NeedRead] = Field(description="From won deals back up to leads.")
    currency: str = Field(description="The reporting currency of the goal and the deal size.")
    fx_rates: dict[str, float] = Field(
        description="The rates the average deal size used: units of `currency` per unit of each."
    )

    @classmethod
    def of(cls, plan: Plan) -> ReverseFunnelRead:
        return cls(
            revenue_goal=money(plan.revenue_goal),
            months=plan.months,
            average_deal_size=money(plan.average_deal),
            deals_measured=plan.deals_measured,
            currency=plan.currency,
            fx_rates={c: float(r) for c, r in plan.rates_used.items()},
            rates=[
                MeasuredRateRead(
                    from_stage=r.from_stage,
                    to_stage=r.to_stage,
                    reached=r.reached,
                    started=r.started,
                    rate=float(r.rate or 0),
                )
                for r in plan.rates
            ],
            needs=[
                NeedRead(stage=n.stage, per_month=n.per_month, over_period=n.over_period) for n in plan.needs
            ],
        )
