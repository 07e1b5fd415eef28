"""Weighted round-robin over a persistent fairness ledger, as pure functions.

Each rep's standing is `credit / weight`: the assignments they have been credited with per unit
of weight. The next lead goes to the smallest standing; ties go to whoever waited longest, then
to the smallest id so every replica makes the same choice. A rep who joins, returns or changes
weight is placed at a standing that does not owe them a backlog, so nobody gets a catch-up burst.
The same holds for a rep who was merely skipped for a while (outside hours, at their cap): they
compete from the pool's level, the share at which the pool last assigned a lead.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from operator import attrgetter
from typing import Literal

NEVER = datetime.min.replace(tzinfo=UTC)

TieBreak = Literal["only_candidate", "lowest_share", "oldest_last_assigned", "rep_id"]


@dataclass(frozen=True)
class Standing:
    """One rep's line in the fairness ledger."""

    rep_id: uuid.UUID
    weight: int
    credit: float
    last_assigned_at: datetime | None = None
    last_share: float | None = None
    pool: str = "default"
    # Worked out once: a batch ranks the same standings for lead after lead.
    _key: tuple[float, datetime, uuid.UUID] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_key", (self.share, self.last_assigned_at or NEVER, self.rep_id))

    @property
    def share(self) -> float:
        return self.credit / self.weight

    def sort_key(self) -> tuple[float, datetime, uuid.UUID]:
        return self._key


_SORT_KEY = attrgetter("_key")


@dataclass(frozen=True)
class Pick:
    chosen: Standing
    ranking: tuple[Standing, ...]
    tie_break: TieBreak


def pick(standings: Sequence[Standing]) -> Pick:
    """The rep who gets the next lead, with the ranking and what decided it."""
    if not standings:
        raise ValueError("no standings to pick from")
    ranking = tuple(sorted(standings, key=_SORT_KEY))
    first = ranking[0]
    if len(ranking) == 1:
        return Pick(first, ranking, "only_candidate")
    second = ranking[1]
    if first.share != second.share:
        tie_break: TieBreak = "lowest_share"
    elif (first.last_assigned_at or NEVER) != (second.last_assigned_at or NEVER):
        tie_break = "oldest_last_assigned"
    else:
        tie_break = "rep_id"
    return Pick(first, ranking, tie_break)


def credited(standing: Standing, *, at: datetime) -> Standing:
    """The standing after one more assignment; `last_share` remembers the pool's level."""
    # Built directly rather than by `replace`: a batch credits one standing per lead.
    return Standing(standing.rep_id, standing.weight, standing.credit + 1, at, standing.share, standing.pool)


def pool_level(standings: Sequence[Standing]) -> float:
    """The share the latest assignee had when picked. It never decreases, and every rep who
    stayed eligible since is at or above it."""
    picked = [s for s in standings if s.last_assigned_at is not None and s.last_share is not None]
    if not picked:
        return 0.0
    latest = max(picked, key=lambda s: (s.last_assigned_at or NEVER, s.rep_id))
    return latest.last_share or 0.0


def leveled(standing: Standing, level: float) -> Standing:
    """The standing a rep competes from: never below the pool's level."""
    floor = level * standing.weight
    return standing if standing.credit >= floor else replace(standing, credit=floor)


def opening_credit(weight: int, others: Sequence[Standing]) -> float:
    """Credit for a rep entering the rotation: level with the lowest standing among the others.

    Starting at zero would hand a newcomer every lead until they caught up with the team.
    """
    if not others:
        return 0.0
    return min(s.share for s in others) * weight


def returning_credit(standing: Standing, others: Sequence[Standing]) -> float:
    """Credit for a rep coming back (reactivated): never below the team's lowest standing."""
    return max(standing.credit, opening_credit(standing.weight, others))


def rebased_credit(credit: float, *, old_weight: int, new_weight: int) -> float:
    """Keep the rep's standing when their weight changes, so the change applies from now on."""
    return credit / old_weight * new_weight
