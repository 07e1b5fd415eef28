"""Running a lead through the rules: which rule decides, who may take the lead, who is next, and
the trace that says why."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import roundrobin
from services.routing.conditions import FieldValue
from services.routing.eligibility import RepAvailability, local_day, skip_reason
from services.routing.models import Rep, RepLedger
from services.routing.repository import (
    AbsenceRepository,
    AssignmentRepository,
    LedgerRepository,
    RepRepository,
)
from services.routing.rule_repository import DayCountRepository
from services.routing.rule_versions import active_rule_set
from services.routing.rules import (
    AccountOwnerAction,
    PoolAction,
    RepAction,
    RepRef,
    Rule,
    RuleSet,
)

POOL = "default"
STRATEGY = "round_robin"
STRATEGIES = {"account_owner": "account_owner", "rep": "named_rep", "pool": STRATEGY}


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
class _Workload:
    """What eligibility needs beyond the rep row, read once per decision."""

    open_counts: Mapping[uuid.UUID, int]
    away: frozenset[uuid.UUID]
    day_counts: Mapping[tuple[uuid.UUID, Any], int]

    def availability(self, rep: Rep, at: datetime) -> RepAvailability:
        return availability_of(
            rep,
            self.open_counts.get(rep.id, 0),
            away=rep.id in self.away,
            assigned_today=self.day_counts.get((rep.id, local_day(rep.timezone, at)), 0),
        )


async def decide(
    session: AsyncSession,
    *,
    at: datetime,
    lead: Mapping[str, Any] | None = None,
    qualification: Mapping[str, FieldValue] | None = None,
    excluding: uuid.UUID | None = None,
    lock: bool = True,
) -> Decision:
    """Try the active rules in order on `lead` (its snapshot) and `qualification` (grade, score,
    SLA tier); the first matching rule that can place the lead decides.

    Without a lead (an escalation that only knows the rep to avoid) the catch-all rule decides.
    With `lock` the candidates stay locked until commit, so the caller can credit the pick; a
    preview reads without locking. `excluding` is the rep an escalation takes the lead from.
    """
    rule_set = await active_rule_set(session)
    facts = rule_set.facts(lead or {}, **(qualification or {}))
    required = rule_set.required_skills(facts)
    rules = list(rule_set.matching(facts)) if lead is not None else [rule_set.catch_all]
    base: dict[str, Any] = {"rules_version": rule_set.version, "decided_at": at.isoformat()}
    if required:
        base["required_skills"] = sorted(required)
    passed_over: list[dict[str, Any]] = []
    for rule in rules:
        if passed_over:
            base["passed_over"] = passed_over
        action = rule.action
        if isinstance(action, PoolAction):
            return await _from_pool(session, rule_set, rule, action, base, at, required, excluding, lock)
        target = _direct_target(action, facts)
        rep = None if target is None else await _named_rep(session, target)
        if rep is None:
            passed_over.append(
                {"rule": rule.id, "reason": "no_account_owner" if target is None else "unknown_rep"}
            )
            continue
        reason = await _unavailable(session, rep, at=at, required=required, excluding=excluding)
        if reason is None and lock:
            # Locked only once chosen, and checked again under the lock: a rep passed over holds
            # no lock, so the pool step below still locks its members in id order.
            await RepRepository(session).lock_candidates([rep.id])
            reason = await _unavailable(session, rep, at=at, required=required, excluding=excluding)
        strategy = STRATEGIES[action.type]
        trace = {**base, "rule": rule.id, "action": action.type, "strategy": strategy, "pool": None}
        if reason is None:
            trace.update(eligible=[{"rep_id": str(rep.id)}], skipped=[], chosen=str(rep.id))
            return Decision(rep, None, trace, queue=f"rule:{rule.id}", strategy=strategy)
        if action.if_unavailable == "queue":
            trace.update(eligible=[], skipped=[{"rep_id": str(rep.id), "reason": reason}])
            return Decision(None, None, trace, queue=f"rule:{rule.id}", strategy=strategy)
        passed_over.append({"rule": rule.id, "rep_id": str(rep.id), "reason": reason})
    raise AssertionError("validation guarantees a catch-all pool rule")


def _direct_target(action: AccountOwnerAction | RepAction, facts: Mapping[str, FieldValue]) -> RepRef | None:
    if isinstance(action, RepAction):
        return RepRef(action.rep)
    owner = facts.get("account_owner_id")
    return RepRef(str(owner)) if owner else None


async def _named_rep(session: AsyncSession, target: RepRef) -> Rep | None:
    reps = RepRepository(session)
    rep_id = target.rep_id or (await reps.ids_by_email([target.email])).get(target.email)
    if rep_id is None:
        return None
    found = await reps.candidates([rep_id])
    return found[0] if found else None


async def _unavailable(
    session: AsyncSession, rep: Rep, *, at: datetime, required: frozenset[str], excluding: uuid.UUID | None
) -> str | None:
    if rep.id == excluding:
        return "escalated_from"
    workload = await _workload(session, at, [rep])
    return skip_reason(workload.availability(rep, at), at=at, required_skills=required)


async def _workload(session: AsyncSession, at: datetime, reps: Sequence[Rep]) -> _Workload:
    daily = any(rep.max_per_day is not None for rep in reps)
    return _Workload(
        open_counts=await AssignmentRepository(session).open_counts(),
        away=await AbsenceRepository(session).reps_away_at(at),
        # Every zone's today lies within a day of UTC's.
        day_counts=await DayCountRepository(session).since(at.date() - timedelta(days=1)) if daily else {},
    )


async def _from_pool(
    session: AsyncSession,
    rule_set: RuleSet,
    rule: Rule,
    action: PoolAction,
    base: dict[str, Any],
    at: datetime,
    required: frozenset[str],
    excluding: uuid.UUID | None,
    lock: bool,
) -> Decision:
    """Drop the pool's members who cannot take the lead at `at`, pick among the rest."""
    pool = rule_set.pool(action.pool)
    reps = RepRepository(session)
    if pool.members == "all":
        members = list(await (reps.lock_candidates(None) if lock else reps.candidates(None)))
        weights = {rep.id: rep.weight for rep in members}
    else:
        refs = [(RepRef(m.rep), m.weight) for m in pool.members]
        by_email = await reps.ids_by_email([r.email for r, _ in refs if r.rep_id is None])
        wanted: dict[uuid.UUID, int | None] = {}
        for ref, weight in refs:
            rep_id = ref.rep_id or by_email.get(ref.email)
            if rep_id is not None:
                wanted[rep_id] = weight
        ids = sorted(wanted)
        members = list(await (reps.lock_candidates(ids) if lock else reps.candidates(ids)))
        weights = {rep.id: wanted[rep.id] or rep.weight for rep in members}
    ledger = LedgerRepository(session)
    lines, fresh = await ledger.lines(pool.id, [rep.id for rep in members], create=lock)
    standings = {
        rep.id: standing_of(rep, lines[rep.id], pool=pool.id, weight=weights[rep.id]) for rep in members
    }
    # A rep new to the pool (it just started, they joined it, or the rules added them) opens
    # level with its lowest active member: starting at zero would hand them every lead for a while.
    veterans = [standings[rep.id] for rep in members if rep.active and rep.id not in fresh]
    for rep_id in sorted(fresh):
        opening = roundrobin.opening_credit(weights[rep_id], veterans)
        standings[rep_id] = replace(standings[rep_id], credit=opening)
        if lock:
            await ledger.open_line(pool.id, rep_id, credit=opening, weight=weights[rep_id])
    level = roundrobin.pool_level(list(standings.values()))
    workload = await _workload(session, at, members)
    eligible: list[tuple[Rep, roundrobin.Standing]] = []
    skipped: list[dict[str, Any]] = []
    leveled: dict[str, float] = {}
    for rep in members:
        reason: str | None = skip_reason(workload.availability(rep, at), at=at, required_skills=required)
        if rep.id == excluding:
            reason = "escalated_from"
        if reason is None:
            standing = roundrobin.leveled(standings[rep.id], level)
            if standing.credit != standings[rep.id].credit:
                leveled[str(rep.id)] = round(standings[rep.id].share, 6)
            eligible.append((rep, standing))
        else:
            entry: dict[str, Any] = {"rep_id": str(rep.id), "reason": reason}
            if reason == "missing_skill":
                entry["missing"] = sorted(required - {s.strip().casefold() for s in rep.skills})
            skipped.append(entry)
    trace: dict[str, Any] = {
        **base,
        "rule": rule.id,
        "action": "pool",
        "pool": pool.id,
        "strategy": STRATEGY,
        "pool_level": round(level, 6),
        "eligible": [],
        "skipped": skipped,
    }
    if not eligible:
        return Decision(None, None, trace, queue=pool.id)
    picked = roundrobin.pick([standing for _, standing in eligible])
    trace["eligible"] = [trace_standing(s) for s in picked.ranking]
    if leveled:
        # Reps back from a skip (hours, cap) or new to the pool, whose share was raised to its level.
        trace["leveled_from"] = leveled
    trace["chosen"] = str(picked.chosen.rep_id)
    trace["tie_break"] = picked.tie_break
    chosen = next(rep for rep, standing in eligible if standing is picked.chosen)
    return Decision(chosen, picked.chosen, trace, queue=pool.id)


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
