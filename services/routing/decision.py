"""Running a lead through the pool: who may take it, who is next, and the trace that says why."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import roundrobin
from services.routing.eligibility import RepAvailability, skip_reason
from services.routing.models import Rep, RepLedger
from services.routing.repository import (
    AbsenceRepository,
    AssignmentRepository,
    LedgerRepository,
    RepRepository,
)

POOL = "default"
STRATEGY = "round_robin"


@dataclass(frozen=True)
class Decision:
    """The outcome of running a lead through the pool, and the trace that explains it."""

    chosen: Rep | None
    standing: roundrobin.Standing | None
    trace: dict[str, Any] = field(default_factory=dict)


async def decide(
    session: AsyncSession, *, at: datetime, excluding: uuid.UUID | None = None, lock: bool = True
) -> Decision:
    """Drop the reps who cannot take a lead at `at`, pick among the rest.

    With `lock` the ledger rows stay locked until commit, so the caller can credit the pick;
    a preview reads without locking. `excluding` is the rep an escalation takes the lead from.
    """
    ledgers = LedgerRepository(session)
    rows = await (ledgers.lock_standings() if lock else ledgers.standings())
    open_counts = await AssignmentRepository(session).open_counts()
    away = await AbsenceRepository(session).reps_away_at(at)
    level = roundrobin.pool_level([standing_of(rep, ledger) for rep, ledger in rows])
    eligible: list[tuple[Rep, roundrobin.Standing]] = []
    skipped: list[dict[str, str]] = []
    leveled: dict[str, float] = {}
    for rep, ledger in rows:
        reason: str | None = skip_reason(
            availability_of(rep, open_counts.get(rep.id, 0), away=rep.id in away), at=at
        )
        if rep.id == excluding:
            reason = "escalated_from"
        if reason is None:
            standing = roundrobin.leveled(standing_of(rep, ledger), level)
            if standing.credit != ledger.credit:
                leveled[str(rep.id)] = round(ledger.credit / rep.weight, 6)
            eligible.append((rep, standing))
        else:
            skipped.append({"rep_id": str(rep.id), "reason": reason})
    trace: dict[str, Any] = {
        "pool": POOL,
        "strategy": STRATEGY,
        "decided_at": at.isoformat(),
        "pool_level": round(level, 6),
        "eligible": [],
        "skipped": skipped,
    }
    if not eligible:
        return Decision(None, None, trace)
    picked = roundrobin.pick([standing for _, standing in eligible])
    trace["eligible"] = [trace_standing(s) for s in picked.ranking]
    if leveled:
        # Reps back from a skip (hours, cap) whose share was raised to the pool's level.
        trace["leveled_from"] = leveled
    trace["chosen"] = str(picked.chosen.rep_id)
    trace["tie_break"] = picked.tie_break
    chosen = next(rep for rep, standing in eligible if standing is picked.chosen)
    return Decision(chosen, picked.chosen, trace)


async def active_standings(session: AsyncSession, *, excluding: uuid.UUID) -> list[roundrobin.Standing]:
    rows = await RepRepository(session).all_with_ledger()
    return [standing_of(rep, ledger) for rep, ledger in rows if rep.active and rep.id != excluding]


def standing_of(rep: Rep, ledger: RepLedger) -> roundrobin.Standing:
    return roundrobin.Standing(rep.id, rep.weight, ledger.credit, ledger.last_assigned_at, ledger.last_share)


def availability_of(rep: Rep, open_count: int, *, away: bool = False) -> RepAvailability:
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
    )


def trace_standing(standing: roundrobin.Standing) -> dict[str, Any]:
    last = standing.last_assigned_at
    return {
        "rep_id": str(standing.rep_id),
        "weight": standing.weight,
        "share": round(standing.share, 6),
        "last_assigned_at": last.isoformat() if last else None,
    }
