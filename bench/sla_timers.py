"""The SLA-timer side of the chaos reconciliation: every timer that came due fired exactly once.

Routing keeps one `sla_timer` row per rep's hold on an assignment; the worker claims due rows,
stamps `fired_at` and, for a breach, writes one `sla.breached` event to its outbox in the same
transaction. So, for the leads the chaos run got a 202 for:

- unfired: due more than `grace_s` before the reconciliation (which waits for them while it
  drains) and still without `fired_at`;
- double fired: one timer (assignment, rep, due time) announced under more than one event id on
  `sla.breached`, or stored as more than one row (a relay re-publishing the same event id after
  a kill is a redelivery, not a second firing);
- unpublished: a breach recorded in the database, older than `grace_s`, absent from the topic;
- phantom: a breach on the topic with no breached timer behind it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bench.reconcile import connect, read_events
from bench.stats import summary_ms
from bench.system import RunningBaton

TimerKey = tuple[str, str, datetime]


def _key(assignment_id: object, rep_id: object, due_at: datetime) -> TimerKey:
    return str(assignment_id), str(rep_id), due_at


async def overdue_timers(baton: RunningBaton, grace_s: float) -> int:
    """SLA timers due more than `grace_s` ago and still unfired."""
    conn = await connect(baton)
    try:
        overdue: int = await conn.fetchval(
            "SELECT count(*) FROM routing.sla_timer WHERE fired_at IS NULL "
            "AND due_at < now() - make_interval(secs => $1)",
            grace_s,
        )
    finally:
        await conn.close()
    return overdue


async def reconcile_sla_timers(
    conn: asyncpg.Connection, bootstrap: str, accepted: list[uuid.UUID], *, grace_s: float
) -> dict[str, Any]:
    now: datetime = await conn.fetchval("SELECT now()")
    cutoff = now - timedelta(seconds=grace_s)
    # The topic first, then the table: a breach reaches the topic only after its row committed,
    # so every breach read here has its row in the snapshot below. Read the other way round, a
    # timer firing in between (timers keep coming due while the run drains) looks like a phantom.
    events = await read_events(bootstrap, "sla.breached")
    rows = await conn.fetch(
        "SELECT t.assignment_id, t.rep_id, t.due_at, t.fired_at, t.outcome FROM routing.sla_timer t "
        "JOIN routing.assignment a ON a.id = t.assignment_id WHERE a.lead_id = ANY($1)",
        accepted,
    )
    ours = {str(lead) for lead in accepted}
    announced: dict[TimerKey, set[str]] = defaultdict(set)
    for event in events:
        if event.get("lead_id") not in ours:
            continue
        payload = event.get("payload", {})
        due_at = datetime.fromisoformat(str(payload.get("due_at")))
        announced[_key(payload.get("assignment_id"), payload.get("rep_id"), due_at)].add(
            str(event.get("event_id"))
        )
    rows_per_key: dict[TimerKey, int] = defaultdict(int)
    for row in rows:
        rows_per_key[_key(row["assignment_id"], row["rep_id"], row["due_at"])] += 1
    came_due = [row for row in rows if row["due_at"] <= cutoff]
    fired = [row for row in rows if row["fired_at"] is not None]
    breached = {
        _key(row["assignment_id"], row["rep_id"], row["due_at"]): row
        for row in fired
        if row["outcome"] == "breached"
    }
    lateness = [(row["fired_at"] - row["due_at"]).total_seconds() for row in fired]
    return {
        "grace_s": grace_s,
        "timers": len(rows),
        "came_due": len(came_due),
        "fired": len(fired),
        "breached": len(breached),
        "moot": sum(1 for row in fired if row["outcome"] == "moot"),
        "pending_not_yet_due": sum(1 for row in rows if row["fired_at"] is None and row["due_at"] > cutoff),
        "unfired_past_grace": sum(1 for row in came_due if row["fired_at"] is None),
        "double_fired": sum(1 for ids in announced.values() if len(ids) > 1)
        + sum(1 for n in rows_per_key.values() if n > 1),
        "breach_not_published": sum(
            1 for key, row in breached.items() if row["fired_at"] <= cutoff and key not in announced
        ),
        "phantom_breaches": sum(1 for key in announced if key not in breached),
        "fired_later_than_grace": sum(1 for late in lateness if late > grace_s),
        "firing_lateness": summary_ms(lateness),
    }
