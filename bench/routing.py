"""`python -m bench.routing`: routing's figures on embedded PostgreSQL, use cases driven in-process.

1. assignment decisions per second against raw single-row transactions on the same server
   (target ratio >= 0.3), two ways, each from concurrent sessions in two replica processes:
   the real `assign_lead`, one transaction per decision, and the real `batch.assign_leads`
   that routing's consumer runs on a fetched batch, `--batch-size` leads per transaction;
2. SLA timers: pending timers all due within a short window, fired by two replica processes
   each running the real `RoutingWorker`: firing lateness p50/p99 (target p99 < 1 s), measured
   from the due time to the commit of the firing transaction, and double fires (target 0);
3. fairness: leads assigned by two replicas, each rep's share against their weighted share
   (target within +-1 % of it), one lead per transaction and then in batches.
Prints a table and writes bench/results/routing-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg
from sqlalchemy import text

from baton.embedded import EmbeddedPostgres
from baton.services import upgrade
from bench.baselines import postgres_transactions
from bench.harness import print_rows, write_results
from bench.replicas import REPLICAS, RULES, collect, in_replicas
from bench.stats import summary_ms
from services.routing import reps
from services.routing.policy import SlaPolicy
from services.routing.schemas import RepCreate
from shared.db import Database

FAIRNESS_WEIGHTS = (1, 1, 2, 3, 5)
PHASES = ("decisions", "timers", "fairness")


# ---- the phases ---------------------------------------------------------------------------------


async def reset(url: str, weights: tuple[int, ...]) -> None:
    """Empty routing's tables and register reps with `weights` (no hours, no caps)."""
    db = Database(url, pool_size=2)
    try:
        async with db.transaction() as session:
            tables = await session.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'routing' AND tablename <> 'alembic_version'"
                )
            )
            names = ", ".join(f'routing."{name}"' for (name,) in tables)
            await session.execute(text(f"TRUNCATE {names} CASCADE"))
        async with db.transaction() as session:
            for i, weight in enumerate(weights):
                await reps.register_rep(
                    session,
                    rules=RULES,
                    rep=RepCreate(name=f"rep {i}", email=f"rep{i}@bench.example", weight=weight),
                )
    finally:
        await db.dispose()


def assignment_rate(url: str, host: str, args: argparse.Namespace) -> dict[str, Any]:
    baseline = asyncio.run(
        postgres_transactions(host, connections=args.sessions, duration_s=args.assign_seconds)
    )
    raw = baseline["transactions_per_s"]
    single = _decisions(url, args, sessions=args.sessions, batch_size=1, raw=raw)
    batched = _decisions(url, args, sessions=args.batch_sessions, batch_size=args.batch_size, raw=raw)
    # The consumer's path (batches) is the headline; the single figure stays beside it.
    return {**single, "raw_transactions_per_s": raw, "batched": batched}


def _decisions(
    url: str, args: argparse.Namespace, *, sessions: int, batch_size: int, raw: float
) -> dict[str, Any]:
    asyncio.run(reset(url, (1,) * args.reps))
    per_replica = max(1, sessions // REPLICAS)
    job = {"url": url, "sessions": per_replica, "seconds": args.assign_seconds, "leads": None}
    processes, results = in_replicas("assign", {**job, "batch_size": batch_size})
    runs = collect(processes, results, timeout_s=args.assign_seconds + 120)
    decisions = sum(r["decisions"] for r in runs)
    rate = decisions / max(r["elapsed_s"] for r in runs)
    return {
        "reps": args.reps,
        "replicas": REPLICAS,
        "sessions": per_replica * REPLICAS,
        "batch_size": batch_size,
        "decisions": decisions,
        "decisions_per_s": round(rate),
        "ratio": round(rate / raw, 3),
        "latency": summary_ms([x for r in runs for x in r["latencies"]]),
        # Wall-clock rates are noisy on a shared 2-core machine; the replicas' CPU is not.
        "replica_cpu_ms_per_decision": round(1000 * sum(r["cpu_s"] for r in runs) / max(decisions, 1), 4),
    }


async def _seed_timers(host: str, *, timers: int, window_s: float, lead_in_s: float) -> datetime:
    """`timers` open, untouched assignments of the reps, each with a breach timer, due evenly
    spread over `window_s` starting `lead_in_s` from now; returns when the window starts."""
    start = datetime.now(UTC) + timedelta(seconds=lead_in_s)
    conn = await asyncpg.connect(host=host, user="postgres", database="postgres")
    try:
        await conn.execute(
            """
            WITH reps AS (SELECT array_agg(id ORDER BY id) AS ids FROM routing.rep),
            rows AS (
                SELECT i, gen_random_uuid() AS id, (SELECT ids FROM reps) AS ids,
                       $2::timestamptz + make_interval(secs => $3::float8 * i / $1) AS due_at
                FROM generate_series(0, $1 - 1) AS i
            ),
            assignments AS (
                INSERT INTO routing.assignment (id, lead_id, rep_id, status, sla_tier, sla_minutes, sla_due_at,
                    assigned_at, qualified_at, lead, strategy, decision, qualified_event_id, correlation_id,
                    reassignments)
                SELECT id, gen_random_uuid(), ids[1 + i % array_length(ids, 1)], 'open', 'hot', 5, due_at,
                    due_at - interval '5 minutes', due_at - interval '5 minutes', '{"email": "x@bench.example"}',
                    'round_robin', '{}', gen_random_uuid(), gen_random_uuid(), 0
                FROM rows
                RETURNING id, rep_id, sla_due_at
            )
            INSERT INTO routing.sla_timer (id, assignment_id, rep_id, due_at, kind, reminders_planned)
            SELECT gen_random_uuid(), id, rep_id, sla_due_at, 'breach', true FROM assignments
            """,
            timers,
            start,
            window_s,
        )
        await conn.execute("ANALYZE routing.sla_timer; ANALYZE routing.assignment")
    finally:
        await conn.close()
    return start


async def _pending(host: str) -> int:
    conn = await asyncpg.connect(host=host, user="postgres", database="postgres")
    try:
        return int(await conn.fetchval("SELECT count(*) FROM routing.sla_timer WHERE fired_at IS NULL"))
    finally:
        await conn.close()


async def _firing_figures(host: str) -> dict[str, Any]:
    conn = await asyncpg.connect(host=host, user="postgres", database="postgres")
    try:
        # The commit time of the transaction that fired the timer (track_commit_timestamp).
        lateness = await conn.fetch(
            "SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - due_at) AS late "
            "FROM routing.sla_timer WHERE fired_at IS NOT NULL"
        )
        events = await conn.fetchval("SELECT count(*) FROM routing.outbox WHERE event_type = 'sla.breached'")
        leads = await conn.fetchval(
            "SELECT count(DISTINCT key) FROM routing.outbox WHERE event_type = 'sla.breached'"
        )
        notices = await conn.fetchval(
            "SELECT count(*) - count(DISTINCT assignment_id) FROM routing.notification WHERE kind = 'sla.breached'"
        )
    finally:
        await conn.close()
    samples = [max(0.0, float(row["late"])) for row in lateness]
    return {
        "lateness": summary_ms(samples),
        "double_fires": int(events - leads) + int(notices),
        "fired": len(samples),
    }


def timer_firing(url: str, host: str, args: argparse.Namespace) -> dict[str, Any]:
    asyncio.run(reset(url, (1,) * args.reps))
    lead_in_s = 8.0  # the replicas start and connect before the first timer is due
    start = asyncio.run(
        _seed_timers(host, timers=args.timers, window_s=args.timer_window_s, lead_in_s=lead_in_s)
    )
    policy = SlaPolicy(reminder_fractions=(), max_reassignments=args.max_reassignments, notify_manager=True)
    stop = multiprocessing.get_context("spawn").Event()
    processes, results = in_replicas(
        "worker",
        {"url": url, "interval_s": args.worker_interval_s, "batch_size": args.worker_batch, "policy": policy},
        stop=stop,
    )
    deadline = start + timedelta(seconds=args.timer_window_s + 120)
    try:
        while datetime.now(UTC) < deadline and asyncio.run(_pending(host)) > 0:
            time.sleep(0.5)
    finally:
        stop.set()
        collect(processes, results, timeout_s=60)
    figures = asyncio.run(_firing_figures(host))
    return {
        "timers": args.timers,
        "window_s": args.timer_window_s,
        "replicas": REPLICAS,
        "worker_interval_s": args.worker_interval_s,
        "worker_batch": args.worker_batch,
        "max_reassignments": args.max_reassignments,
        "not_fired": args.timers - figures["fired"],
        **figures,
    }


async def _shares(url: str) -> dict[str, Any]:
    db = Database(url, pool_size=2)
    try:
        async with db.transaction() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT r.name, r.weight, count(a.id) FROM routing.rep r "
                        "LEFT JOIN routing.assignment a ON a.rep_id = r.id GROUP BY r.name, r.weight ORDER BY r.name"
                    )
                )
            ).all()
    finally:
        await db.dispose()
    total = sum(count for _, _, count in rows)
    weights = sum(weight for _, weight, _ in rows)
    per_rep = []
    for name, weight, count in rows:
        expected = weight / weights
        actual = count / total
        per_rep.append(
            {
                "rep": name,
                "weight": weight,
                "leads": count,
                "share_pct": round(actual * 100, 3),
                "weighted_share_pct": round(expected * 100, 3),
                "relative_error_pct": round((actual - expected) / expected * 100, 3),
            }
        )
    return {
        "leads": total,
        "reps": per_rep,
        "max_deviation_pct": max(abs(r["relative_error_pct"]) for r in per_rep),
    }


def fairness(url: str, args: argparse.Namespace) -> dict[str, Any]:
    figures = _fairness_run(url, args, batch_size=1)
    figures["batched"] = _fairness_run(url, args, batch_size=args.batch_size)
    return figures


def _fairness_run(url: str, args: argparse.Namespace, *, batch_size: int) -> dict[str, Any]:
    asyncio.run(reset(url, FAIRNESS_WEIGHTS))
    per_replica = args.leads // REPLICAS
    job = {"url": url, "sessions": args.fairness_sessions, "seconds": None, "leads": per_replica}
    processes, results = in_replicas("assign", {**job, "batch_size": batch_size})
    runs = collect(processes, results, timeout_s=3600)
    figures = asyncio.run(_shares(url))
    figures["decisions_per_s"] = round(sum(r["decisions"] for r in runs) / max(r["elapsed_s"] for r in runs))
    figures["replicas"] = REPLICAS
    figures["batch_size"] = batch_size
    return figures


# ---- the run ------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="baton-bench-routing-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pgdata")
        url = postgres.start()
        try:
            host = parse_qs(urlparse(url).query)["host"][0]
            # Lateness is measured to the commit of the firing transaction; Postgres records it
            # only with track_commit_timestamp, which takes a restart.
            asyncio.run(_enable_commit_timestamps(host))
            postgres.stop()
            url = postgres.start()
            upgrade("routing", url)
            load = [round(x, 1) for x in os.getloadavg()]
            results: dict[str, Any] = {"machine": {"python": sys.version.split()[0], "load": load}}
            if "decisions" in args.phases:
                print("bench.routing: assignment decisions vs raw transactions...", flush=True)
                results["decisions"] = assignment_rate(url, host, args)
            if "timers" in args.phases:
                print(f"bench.routing: {args.timers} timers over {args.timer_window_s:g}s...", flush=True)
                results["timers"] = timer_firing(url, host, args)
            if "fairness" in args.phases:
                print(f"bench.routing: fairness over {args.leads} leads, two replicas...", flush=True)
                results["fairness"] = fairness(url, args)
            return results
        finally:
            postgres.stop()


async def _enable_commit_timestamps(host: str) -> None:
    conn = await asyncpg.connect(host=host, user="postgres", database="postgres")
    try:
        await conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
    finally:
        await conn.close()


def print_table(results: dict[str, Any]) -> None:
    rows: list[tuple[str, object]] = [("machine load average (1, 5, 15 min)", results["machine"]["load"])]
    if a := results.get("decisions"):
        b = a["batched"]
        rows += [
            ("postgres single-row tx/s (baseline)", a["raw_transactions_per_s"]),
            (
                f"assign_lead decisions/s ({a['replicas']} replicas, {a['sessions']} sessions)",
                a["decisions_per_s"],
            ),
            ("  ratio decisions / raw tx (target >= 0.3)", a["ratio"]),
            ("  decision p50 / p99 ms", f"{a['latency']['p50_ms']} / {a['latency']['p99_ms']}"),
            ("  replica CPU ms per decision", a["replica_cpu_ms_per_decision"]),
            (
                f"batched decisions/s ({b['batch_size']} leads/tx, {b['replicas']} replicas, "
                f"{b['sessions']} sessions)",
                b["decisions_per_s"],
            ),
            ("  ratio decisions / raw tx (target >= 0.3)", b["ratio"]),
            ("  batch transaction p50 / p99 ms", f"{b['latency']['p50_ms']} / {b['latency']['p99_ms']}"),
            ("  replica CPU ms per decision", b["replica_cpu_ms_per_decision"]),
        ]
    if t := results.get("timers"):
        rows += [
            (f"timers fired ({t['timers']} due over {t['window_s']:g}s, 2 replicas)", t["fired"]),
            ("  lateness p50 / p99 / max ms (target p99 < 1000)", _late(t["lateness"])),
            ("  double fires (target 0)", t["double_fires"]),
        ]
    if f := results.get("fairness"):
        for run, how in ((f, "one per tx"), (f["batched"], f"{f['batched']['batch_size']} per tx")):
            rows.append(
                (
                    f"fairness over {run['leads']} leads ({how}): max |share error| % (target <= 1)",
                    run["max_deviation_pct"],
                )
            )
            rows += [
                (f"  {r['rep']} (weight {r['weight']})", f"{r['share_pct']} % vs {r['weighted_share_pct']} %")
                for r in run["reps"]
            ]
    print_rows(rows)


def _late(summary: dict[str, Any]) -> str:
    return f"{summary['p50_ms']} / {summary['p99_ms']} / {summary['max_ms']}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.routing", description=__doc__)
    parser.add_argument("--assign-seconds", type=float, default=10.0, help="length of the throughput run")
    parser.add_argument(
        "--sessions", type=int, default=16, help="concurrent sessions (and baseline connections)"
    )
    parser.add_argument("--batch-size", type=int, default=100, help="leads per batched transaction")
    parser.add_argument(
        "--batch-sessions", type=int, default=2, help="concurrent sessions of the batched run (all replicas)"
    )
    parser.add_argument("--reps", type=int, default=10, help="reps in the pool for throughput and timers")
    parser.add_argument("--timers", type=int, default=100_000, help="pending timers")
    parser.add_argument("--timer-window-s", type=float, default=60.0, help="the timers fall due over this")
    parser.add_argument("--worker-interval-s", type=float, default=0.1, help="BATON_WORKER_INTERVAL_S")
    parser.add_argument("--worker-batch", type=int, default=500, help="BATON_WORKER_BATCH_SIZE")
    parser.add_argument("--max-reassignments", type=int, default=0, help="BATON_SLA_MAX_REASSIGNMENTS")
    parser.add_argument("--leads", type=int, default=10_000, help="leads for the fairness run")
    parser.add_argument("--fairness-sessions", type=int, default=4, help="sessions per replica, fairness run")
    parser.add_argument(
        "--phases", nargs="+", choices=PHASES, default=list(PHASES), help="which measurements to run"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    results = run(args)
    path = write_results(args.out, "routing", results)
    print_table(results)
    print(f"bench.routing: wrote {path}")


if __name__ == "__main__":
    main()
