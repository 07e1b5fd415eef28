"""Pareto ordering of reasons: the few reasons behind most rejections and losses come first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

UNSPECIFIED = "unspecified"


@dataclass(frozen=True)
class ParetoRow:
    reason: str
    count: int
    share: float
    cumulative_share: float


def pareto(counts: Mapping[str | None, int]) -> tuple[ParetoRow, ...]:
    """Reasons by descending count (ties by name), with their share and running share.

    A missing reason is reported as "unspecified" rather than dropped, so the shares add up
    to every rejection or loss, and marketing sees how often sales gives no reason at all.
    """
    merged: dict[str, int] = {}
    for reason, count in counts.items():
        if count > 0:
            key = reason.strip() if reason and reason.strip() else UNSPECIFIED
            merged[key] = merged.get(key, 0) + count
    total = sum(merged.values())
    rows: list[ParetoRow] = []
    running = 0
    for reason, count in sorted(merged.items(), key=lambda item: (-item[1], item[0])):
        running += count
        rows.append(ParetoRow(reason, count, count / total, running / total))
    return tuple(rows)
