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

    _held: dict[int, _Held] = field(default_factory=dict, init=False, repr=False, compare=False)
    _known: dict[tuple[int, int, bool, int], tuple[Rep, RepAvailability]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def _hold(self, rep: Rep) -> _Held:
        # A batch asks about every member for every lead: the rep's row is read once (each
        # read of an ORM attribute costs). The rep is kept beside its entries, so its id()
        # cannot be another's meanwhile.
        held = self._held.get(id(rep))
        if held is None or held.rep is not rep:
            absences = (self.absences.get(rep.id) if self.absences else None) or None
            held = self._held[id(rep)] = _Held(rep, availability_of(rep, 0), absences)
        return held

    def availability(self, rep: Rep, at: datetime) -> RepAvailability:
        held = self._hold(rep)
        base, absences = held.base, held.absences
        away = absences is not None and any(start <= at < end for start, end in absences)
        today = 0
        if base.max_per_day is not None:
            today = self.day_counts.get((base.rep_id, local_day(base.timezone, at)), 0)
        # Counts matter only under a cap.
        open_count = 0 if base.max_open is None else self.open_counts.get(base.rep_id, 0)
        if not (away or today or open_count):
            return base
        known = self._known.get((id(rep), open_count, away, today))
        if known is None or known[0] is not rep:
            available = replace(base, open_count=open_count, away=away, assigned_today=today)
            known = self._known[(id(rep), open_count, away, today)] = (rep, available)
        return known[1]

    def skip_reason(self, rep: Rep, at: datetime, required: frozenset[str]) -> str | None:
        """`eligibility.skip_reason` of the rep as this workload has them at `at`."""
        held = self._hold(rep)
        if held.steady and not required:
            return held.steady_reason
        return skip_reason(self.availability(rep, at), at=at, required_skills=required)

    def count(self, rep_id: uuid.UUID, day: date) -> None:
        """One more open lead for the rep, on `day` of their calendar."""
        self.open_counts[rep_id] = self.open_counts.get(rep_id, 0) + 1
        self.day_counts[(rep_id, day)] = self.day_counts.get((rep_id, day), 0) + 1


class _Held:
    """A rep's row as eligibility reads it. Steady: no absence, cap or working hours, so what
    keeps them from a lead that needs no skill never changes with the instant or the counts."""

    __slots__ = ("absences", "base", "rep", "steady", "steady_reason")

    def __init__(
        self, rep: Rep, base: RepAvailability, absences: Sequence[tuple[datetime, datetime]] | None
    ) -> None:
        self.rep, self.base, self.absences = rep, base, absences
        self.steady = (
            absences is None
            and base.max_open is None
            and base.max_per_day is None
            and (base.work_start is None or base.work_end is None)
        )
        self.steady_reason = skip_reason(base, at=roundrobin.NEVER) if self.steady else None


@dataclass(frozen=True)
class PoolView:
    """A pool's members (id order) and their standings (at their weight in it) in its ledger."""

    pool: str
    members: Sequence[Rep]
    standings: dict[uuid.UUID, roundrobin.Standing]
    _traced: dict[int, tuple[roundrobin.Standing, dict[str, Any]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    # Each member with its id, read once: every read of an ORM attribute costs, per lead.
    keyed: tuple[tuple[Rep, uuid.UUID], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keyed", tuple((rep, rep.id) for rep in self.members))

    def traced(self, ranking: Sequence[roundrobin.Standing]) -> list[dict[str, Any]]:
        """`trace_standing` of each, worked out once per standing: in a batch most stay unchanged."""
        known = self._traced
        entries = []
        for standing in ranking:
            entry = known.get(id(standing))
            # The standing is kept beside its entry, so its id cannot be another's meanwhile.
            if entry is None or entry[0] is not standing:
                entry = known[id(standing)] = (standing, trace_standing(standing))
            entries.append(entry[1].copy())
        return entries


def unavailable(
    rep: Rep, workload: Workload, *, at: datetime, required: frozenset[str], excluding: uuid.UUID | None
) -> str | None:
    """Why `rep` cannot take the lead at `at`, or None."""
    if rep.id == excluding:
        return "escalated_from"
    return workload.skip_reason(rep, at, required)


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
    standings = view.standings
    level = roundrobin.pool_level(list(standings.values()))
    eligible: dict[int, Rep] = {}
    ranked: list[roundrobin.Standing] = []
    skipped: list[dict[str, Any]] = []
    leveled: dict[str, float] = {}
    for rep, rep_id in view.keyed:
        if excluding is not None and rep_id == excluding:
            reason: str | None = "escalated_from"
        else:
            reason = workload.skip_reason(rep, at, required)
        if reason is None:
            current = standings[rep_id]
            standing = roundrobin.leveled(current, level)
            if standing.credit != current.credit:
                leveled[str(rep_id)] = round(current.share, 6)
            eligible[id(standing)] = rep
            ranked.append(standing)
        else:
            entry: dict[str, Any] = {"rep_id": str(rep_id), "reason": reason}
            if reason == "missing_skill":
                entry["missing"] = sorted(required - workload.availability(rep, at).held_skills)
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
    if not ranked:
        return Decision(None, None, trace, queue=view.pool)
    picked = roundrobin.pick(ranked)
    trace["eligible"] = view.traced(picked.ranking)
    if leveled:
        # Reps back from a skip (hours, cap) or new to the pool, whose share was raised to its level.
        trace["leveled_from"] = leveled
    trace["chosen"] = str(picked.chosen.rep_id)
    trace["tie_break"] = picked.tie_break
    return Decision(eligible[id(picked.chosen)], picked.chosen, trace, queue=view.pool)


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
