"""The funnel, as pure logic: which stages a lead has reached and the conversions between them.

Events arrive late, out of order, or not at all (a rep may mark a lead won without ever
pressing "accepted"). A stage reached therefore implies every stage before it: a won lead
counts as sql, accepted, assigned, mql and ingested. That closure is what keeps the counts
monotone along the main path and every conversion rate within [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise


class Stage(StrEnum):
    INGESTED = "ingested"
    MQL = "mql"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SQL = "sql"
    WON = "won"
    LOST = "lost"
    RECYCLED = "recycled"


STAGES: tuple[Stage, ...] = tuple(Stage)

MAIN_PATH: tuple[Stage, ...] = (
    Stage.INGESTED,
    Stage.MQL,
    Stage.ASSIGNED,
    Stage.ACCEPTED,
    Stage.SQL,
    Stage.WON,
)

# Each stage implies the one it can only be reached from. A rejection follows an assignment;
# a loss follows acceptance (not necessarily an opportunity, so it does not imply sql).
IMPLIES: Mapping[Stage, Stage] = {
    Stage.MQL: Stage.INGESTED,
    Stage.ASSIGNED: Stage.MQL,
    Stage.ACCEPTED: Stage.ASSIGNED,
    Stage.REJECTED: Stage.ASSIGNED,
    Stage.SQL: Stage.ACCEPTED,
    Stage.WON: Stage.SQL,
    Stage.LOST: Stage.ACCEPTED,
    # Recycled to nurture: handed back by the rep at any point after the assignment.
    Stage.RECYCLED: Stage.ASSIGNED,
}

CONVERSIONS: tuple[tuple[Stage, Stage], ...] = tuple(pairwise(MAIN_PATH))


@dataclass(frozen=True)
class StageCount:
    stage: Stage
    count: int


@dataclass(frozen=True)
class Conversion:
    from_stage: Stage
    to_stage: Stage
    rate: float | None
    median_s: float | None = None


@dataclass(frozen=True)
class Funnel:
    stages: tuple[StageCount, ...]
    conversions: tuple[Conversion, ...]

    def count(self, stage: Stage) -> int:
        return next(s.count for s in self.stages if s.stage is stage)

    def rate_into(self, stage: Stage) -> float | None:
        """The conversion rate from the previous main-path stage into `stage`, if it has one."""
        return next((c.rate for c in self.conversions if c.to_stage is stage), None)


def reached(stages: Iterable[Stage]) -> frozenset[Stage]:
    """The stages recorded plus every stage they imply."""
    closed: set[Stage] = set()
    for stage in stages:
        current: Stage | None = stage
        while current is not None and current not in closed:
            closed.add(current)
            current = IMPLIES.get(current)
    return frozenset(closed)


def count_stages(signatures: Iterable[tuple[Iterable[Stage], int]]) -> dict[Stage, int]:
    """Stage counts from (stages recorded for a lead, number of such leads) pairs."""
    counts = dict.fromkeys(STAGES, 0)
    for recorded, leads in signatures:
        for stage in reached(recorded):
            counts[stage] += leads
    return counts


def rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def build_funnel(
    counts: Mapping[Stage, int], medians: Mapping[tuple[Stage, Stage], float | None] | None = None
) -> Funnel:
    """The funnel in stage order and the conversion between consecutive main-path stages.

    `medians` are the median seconds between the two stages, over leads with both recorded
    (an implied stage has no timestamp, so it cannot take part in a duration).
    """
    medians = medians or {}
    return Funnel(
        stages=tuple(StageCount(stage, counts.get(stage, 0)) for stage in STAGES),
        conversions=tuple(
            Conversion(a, b, rate(counts.get(b, 0), counts.get(a, 0)), medians.get((a, b)))
            for a, b in CONVERSIONS
        ),
    )


def funnel_from_signatures(
    signatures: Iterable[tuple[Iterable[Stage], int]],
    medians: Mapping[tuple[Stage, Stage], float | None] | None = None,
) -> Funnel:
    return build_funnel(count_stages(signatures), medians)
