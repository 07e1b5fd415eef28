"""The funnel rates a draft agreement is pre-filled with, each with its Wilson 95 % interval.

Wilson, not the normal approximation: with the small counts of a young funnel (3 wins out of
5 SQLs) the normal interval runs past 0 or 1 and is too narrow; Wilson's stays in [0, 1] and
keeps close to its nominal coverage. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from services.feedback.funnel import Stage

# The two-sided 95 % quantile of the standard normal.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class RateEstimate:
    """A conversion measured over `started` leads, `reached` of which made the next stage."""

    name: str
    from_stage: Stage
    to_stage: Stage
    reached: int
    started: int

    @property
    def rate(self) -> float | None:
        return self.reached / self.started if self.started else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.reached, self.started)


# What both teams plan with, named as a draft agreement's `plan.rates` names them where it does.
PLANNING_STEPS: tuple[tuple[str, Stage, Stage], ...] = (
    ("lead_to_mql", Stage.INGESTED, Stage.MQL),
    ("mql_to_sal", Stage.MQL, Stage.ACCEPTED),
    ("sal_to_sql", Stage.ACCEPTED, Stage.SQL),
    ("mql_to_sql", Stage.MQL, Stage.SQL),
    ("sql_to_won", Stage.SQL, Stage.WON),
)


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a binomial proportion; None without a trial."""
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    # The closed form misses 0 or 1 by a rounding error at the extremes; the rate is always inside.
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def planning_rates(counts: Mapping[Stage, int]) -> tuple[RateEstimate, ...]:
    """Each planning rate from the stage counts of the funnel (`funnel.count_stages`)."""
    return tuple(
        RateEstimate(name, a, b, counts.get(b, 0), counts.get(a, 0)) for name, a, b in PLANNING_STEPS
    )


@dataclass(frozen=True)
class PlanningEvidence:
    """What a draft's planning rates are pre-filled from: the rates with their intervals, and
    the average won deal in the reporting currency (with the exchange rates it used)."""

    rates: tuple[RateEstimate, ...]
    currency: str
    deals_with_amount: int
    average_deal: Decimal | None
    rates_used: Mapping[str, Decimal]
