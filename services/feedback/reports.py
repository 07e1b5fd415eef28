"""What feedback's reports are made of: the rows the repository aggregates and the results the
report use cases return, as plain values the HTTP schemas render.

Pure: they sit below the repository, the use cases and the schemas alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from services.feedback.attribution import AttributionKey, Credit
from services.feedback.funnel import Funnel
from services.feedback.pareto import ParetoRow

# What a report may group its leads by.
Dimension = Literal[
    "source", "campaign", "form_id", "grade", "rubric_version", "rep_id", "sla_tier", "persona", "month"
]


@dataclass(frozen=True)
class Speed:
    """System time (form to assignment) and human time (assignment to first touch) of one group."""

    key: str | None
    system_n: int
    system_p50_s: float | None
    system_p95_s: float | None
    human_n: int
    human_p50_s: float | None
    human_p95_s: float | None
    contact_n: int = 0
    contact_p50_s: float | None = None
    contact_p95_s: float | None = None


@dataclass(frozen=True)
class SlaTally:
    """Assigned leads of one group first touched within their SLA tier, late, or not yet due."""

    key: str | None
    met: int
    missed: int
    pending: int


@dataclass(frozen=True)
class FunnelGroup:
    """The funnel of the leads sharing one value of a dimension."""

    key: str | None
    funnel: Funnel


@dataclass(frozen=True)
class SlaShare:
    """An SLA tally with the share met among the leads already decided (pending left out)."""

    key: str | None
    met: int
    missed: int
    pending: int
    share_met: float | None


@dataclass(frozen=True)
class MqlMonth:
    """MQLs delivered in one month against the agreed monthly number."""

    month: str
    mqls: int
    target: int | None
    share_of_target: float | None
    re_mqls: int = 0


@dataclass(frozen=True)
class Reasons:
    """Why sales rejects leads and why deals are lost, most frequent first."""

    rejected: tuple[ParetoRow, ...]
    lost: tuple[ParetoRow, ...]


@dataclass(frozen=True)
class Attribution:
    """Won revenue credited by first touch, last touch and linear, per source or campaign."""

    by: AttributionKey
    deals: int
    revenue: Decimal
    rows: list[Credit]
    currency: str = "EUR"
    rates: dict[str, Decimal] = field(default_factory=dict)
