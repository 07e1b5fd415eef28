"""Choosing a rep among a pool's members from what is known about them: who may take the lead,
who is next by weighted round-robin, and the trace that says why. Pure, so a single decision
(state read from the database) and a batch (state held in memory between its leads) share it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from services.routing import roundrobin
from services.routing.eligibility import RepAvailability, local_day, skip_reason
from services.routing.models import Rep, RepLedger

POOL = "default"
STRATEGY = "round_robin"

Absences = Mapping[uuid.UUID, Sequence[tuple[datetime, datetime]]]


@dataclass(frozen=True)
class Decision:
    """The outcome of running a lead through the rules, and the trace that explains it.

    `standing` is the chosen rep's line in the pool's ledger (None when a rule named the rep
    directly); `queue` is where the lead waits when nobody was chosen.
    """

    chosen: Rep | None
    standing: roundrobin.Standing | None
    trace: dict[str, Any] = field(default_factory=dict)
    queue: str = POOL
    strategy: str = STRATEGY


@dataclass(frozen=True)
class Workload:
    """What eligibility needs beyond the rep row: open leads, absences (start, end) and daily
    counts by the rep's own day. A batch updates the counts as it assigns."""

    open_counts: dict[uuid.UUID, int]
    absences: Absences
    day_counts: dict[tuple[uuid.UUID, date], int]

    _known: dict[tuple[int, int, bool, int], tuple[Rep, RepAvailability]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def availability(self, rep: Rep, at: datetime) -> RepAvailability:
        rep_id = rep.id
        absences = self.absences.get(rep_id) if self.absences else None
        away = absences is not None and any(start <= at < end for start, end in absences)
        today = 0
        if rep.max_per_day is not None:
            today = self.day_counts.get((rep_id, local_day(rep.timezone, at)), 0)
        open_count = self.open_counts.get(rep_id, 0)
        # A batch asks about every member for every lead, and most of them have not changed;
        # the rep is kept beside its entry, so its id() cannot be another's meanwhile.
        known = self._known.get((id(rep), open_count, away, today))
        if known is None or known[0] is not rep:
            available = availability_of(rep, open_count, away=away, assigned_today=today)
            known = self._known[(id(rep), open_count, away, today)] = (rep, available)
        return known[1]

    def count(self, rep_id: uuid.UUID, day: date) -> None:
        """One more open lead for the rep, on `day` of their calendar."""
        self.open_counts[rep_id] = self.open_counts.get(rep_id, 0) + 1
        self.day_counts[(rep_id, day)] = self.day_counts.get((rep_id, day), 0) + 1


@dataclass(frozen=True)
class PoolView:
    """A pool's members (id order) and their standings (at their weight in it) in its ledger."""

    pool: str
    members: Sequence[Rep]
    standings: dict[uuid.UUID, roundrobin.Standing]
    _traced: dict[int, tuple[roundrobin.Standing, dict[str, Any]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def traced(self, standing: roundrobin.Standing) -> dict[str, Any]:
        """`trace_standing`, worked out once per standing: in a batch most stay unchanged."""
        known = self._traced.get(id(standing))
        # The standing is kept beside its entry, so its id cannot be another's meanwhile.
        if known is None or known[0] is not standing:
            known = self._traced[id(standing)] = (standing, trace_standing(standing))
        return dict(known[1])


def unavailable(
    rep: Rep, workload: Workload, *, at: datetime, required: frozenset[str], excluding: uuid.UUID | None
) -> str | None:
    """Why `rep` cannot take the lead at `at`, or None."""
    if rep.id == excluding:
        return "escalated_from"
    return skip_reason(workload.availability(rep, at), at=at, required_skills=required)


def choose_in_pool(
    view: PoolView,
    workload: Workload,
    *,
    rule: str,
    base: Mapping[str, Any],
    at: datetime,
    required: frozenset[str],
    excluding: uuid.UUID | None,
) -> Decision:
    """Drop the pool's members who cannot take the lead at `at`, pick among the rest."""
    level = roundrobin.pool_level(list(view.standings.values()))
    eligible: list[tuple[Rep, roundrobin.Standing]] = []
    skipped: list[dict[str, Any]] = []
    leveled: dict[str, float] = {}
    for rep in view.members:
        reason = unavailable(rep, workload, at=at, required=required, excluding=excluding)
        if reason is None:
            current = view.standings[rep.id]
            standing = roundrobin.leveled(current, level)
            if standing.credit != current.credit:
                leveled[str(rep.id)] = round(current.share, 6)
            eligible.append((rep, standing))
        else:
            entry: dict[str, Any] = {"rep_id": str(rep.id), "reason": reason}
            if reason == "missing_skill":
                entry["missing"] = sorted(required - {s.strip().casefold() for s in rep.skills})
            skipped.append(entry)
    trace: dict[str, Any] = {
        **base,
        "rule": rule,
        "action": "pool",
        "pool": view.pool,
        "strategy": STRATEGY,
        "pool_level": round(level, 6),
        "eligible": [],
        "skipped": skipped,
    }
    if not eligible:
        return Decision(None, None, trace, queue=view.pool)
    picked = roundrobin.pick([standing for _, standing in eligible])
    trace["eligible"] = [view.traced(s) for s in picked.ranking]
    if leveled:
        # Reps back from a skip (hours, cap) or new to the pool, whose share was raised to its level.
        trace["leveled_from"] = leveled
    trace["chosen"] = str(picked.chosen.rep_id)
    trace["tie_break"] = picked.tie_break
    chosen = next(rep for rep, standing in eligible if standing is picked.chosen)
    return Decision(chosen, picked.chosen, trace, queue=view.pool)


def opened_standings(
    members: Sequence[Rep],
    lines: Mapping[uuid.UUID, RepLedger],
    fresh: frozenset[uuid.UUID],
    *,
    pool: str,
    weights: Mapping[uuid.UUID, int],
) -> dict[uuid.UUID, roundrobin.Standing]:
    """Each member's standing in the pool; a rep new to the pool (it just started, they joined
    it, or the rules added them) opens level with its lowest active member: starting at zero
    would hand them every lead for a while."""
    standings = {
        rep.id: standing_of(rep, lines[rep.id], pool=pool, weight=weights[rep.id]) for rep in members
    }
    veterans = [standings[rep.id] for rep in members if rep.active and rep.id not in fresh]
    for rep_id in sorted(fresh):
        opening = roundrobin.opening_credit(weights[rep_id], veterans)
        standings[rep_id] = replace(standings[rep_id], credit=opening)
    return standings


def standing_of(rep: Rep, line: RepLedger, *, pool: str, weight: int) -> roundrobin.Standing:
    """The rep's line in the pool at `weight`; credit counted at another weight is rebased, so
    a weight change applies from now on instead of owing or granting a backlog."""
    credit = line.credit
    if line.weight is not None and line.weight != weight:
        credit = roundrobin.rebased_credit(credit, old_weight=line.weight, new_weight=weight)
    return roundrobin.Standing(rep.id, weight, credit, line.last_assigned_at, line.last_share, pool)


def availability_of(
    rep: Rep, open_count: int, *, away: bool = False, assigned_today: int = 0
) -> RepAvailability:
    return RepAvailability(
        rep_id=rep.id,
        active=rep.active,
        timezone=rep.timezone,
        work_start=rep.work_start,
        work_end=rep.work_end,
        work_days=tuple(rep.work_days),
        max_open=rep.max_open,
        open_count=open_count,
        away=away,
        skills=frozenset(rep.skills),
        max_per_day=rep.max_per_day,
        assigned_today=assigned_today,
    )


def trace_standing(standing: roundrobin.Standing) -> dict[str, Any]:
    last = standing.last_assigned_at
    return {
        "rep_id": str(standing.rep_id),
        "weight": standing.weight,
        "share": round(standing.share, 6),
        "last_assigned_at": last.isoformat() if last else None,
    }
