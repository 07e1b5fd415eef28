"""The reverse funnel, as pure logic: from sales' revenue goal back to marketing's lead number.

Won deals needed = goal / average deal size; each earlier stage divides by the measured
conversion into the next one. The arithmetic is exact (fractions), and each need is rounded
up only at the end, so a need is never short by a rounding error: 3 deals at a 50 % SQL→won
rate needs 6 SQLs, not 5.999… rounded to 6 or 7 depending on the float.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from services.feedback.funnel import Stage

# The three conversions the plan walks back through, from the top of the funnel down.
PLAN_STEPS: tuple[tuple[Stage, Stage], ...] = (
    (Stage.INGESTED, Stage.MQL),
    (Stage.MQL, Stage.SQL),
    (Stage.SQL, Stage.WON),
)
NAMES = {Stage.INGESTED: "lead", Stage.MQL: "MQL", Stage.SQL: "SQL", Stage.WON: "won"}


@dataclass(frozen=True)
class MeasuredRate:
    from_stage: Stage
    to_stage: Stage
    reached: int
    started: int

    @property
    def rate(self) -> Fraction | None:
        return Fraction(self.reached, self.started) if self.started else None

    @property
    def name(self) -> str:
        return f"{NAMES[self.from_stage]}→{NAMES[self.to_stage]}"


@dataclass(frozen=True)
class Need:
    stage: Stage
    per_month: int
    over_period: int


@dataclass(frozen=True)
class Plan:
    revenue_goal: Decimal
    months: int
    average_deal: Decimal
    deals_measured: int
    rates: tuple[MeasuredRate, ...]
    needs: tuple[Need, ...]
    currency: str = "EUR"
    rates_used: Mapping[str, Decimal] = field(default_factory=dict)


def measured_rates(counts: dict[Stage, int]) -> tuple[MeasuredRate, ...]:
    return tuple(MeasuredRate(a, b, counts.get(b, 0), counts.get(a, 0)) for a, b in PLAN_STEPS)


def missing_measurements(
    rates: tuple[MeasuredRate, ...], *, deals_with_amount: int, revenue: Decimal
) -> list[str]:
    """What the history cannot measure yet, each said plainly; empty when a plan can be made."""
    missing: list[str] = []
    for r in rates:
        if r.started == 0:
            missing.append(f"{r.name} rate: no {NAMES[r.from_stage]} in the period yet")
        elif r.reached == 0:
            missing.append(
                f"{r.name} rate: none of the {r.started} {NAMES[r.from_stage]}s "
                f"reached {NAMES[r.to_stage]} yet"
            )
    if deals_with_amount == 0 or revenue <= 0:
        missing.append("average deal size: no won deal with an amount yet")
    return missing


def plan(
    rates: tuple[MeasuredRate, ...],
    *,
    revenue_goal: Decimal,
    months: int,
    deals_with_amount: int,
    revenue: Decimal,
) -> Plan:
    """The monthly (and whole-period) won deals, SQLs, MQLs and leads the goal needs.

    Call only when `missing_measurements` is empty."""
    average = Fraction(revenue) / deals_with_amount
    exact = Fraction(revenue_goal) / months / average
    needs = [Need(Stage.WON, math.ceil(exact), math.ceil(exact * months))]
    for r in reversed(rates):
        rate = r.rate
        assert rate, f"{r.name} is not measured"
        exact /= rate
        needs.append(Need(r.from_stage, math.ceil(exact), math.ceil(exact * months)))
    return Plan(
        revenue_goal=revenue_goal,
        months=months,
        average_deal=revenue / deals_with_amount,
        deals_measured=deals_with_amount,
        rates=rates,
        needs=tuple(needs),
    )
