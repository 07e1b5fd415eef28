"""`make chaos`: Baton under steady load while its processes are killed and frozen.

Starts `baton up` (embedded PostgreSQL and broker) in a throwaway home, offers an open-loop
stream of demo-request form posts (a hand-raiser form: every lead qualifies and is assigned)
and, in turn: `kill -9` each service (the supervisor in `baton up` restarts it; each service
carries its own outbox relay, so the relays die with it), freezes the broker with SIGSTOP for
a while then SIGCONT, cuts the broker off the network (a proxy that every Kafka connection
crosses resets them all and refuses new ones, then heals), and restarts PostgreSQL with
`pg_ctl restart -m fast`. Every fifth lead is a VP (grade A), whose SLA the chaos rubric cuts
to one minute; nobody touches a lead, so their SLA timers come due, breach and reassign
throughout the faults (the others' SLA runs past the end of the run). Then it drains and
reconciles the databases and topics against every lead that was answered 202:

- lost: accepted but never stored, scored, qualified, assigned or counted by feedback;
- duplicated: a lead with more than one assignment (rows, or distinct ids on `lead.assigned`),
  or more than one `lead.qualified` event id;
- late: assigned more than `LATE_S` after the post (the README promises < 2 s);
- SLA timers: every timer that came due fired exactly once (see `bench.sla_timers`);
- recovery: per fault, the time from its end until end-to-end latency is back under
  `RECOVERY_FACTOR` x the p95 measured before the first fault (see `bench.reconcile.recovery_s`).

Prints a table and writes bench/results/chaos-<UTC time>.json. `--short` is the CI version.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.diagnose import diagnose
from bench.faults import Fault, cut_network, freeze_broker, kill_service, restart_postgres, stop_postgres
from bench.reconcile import (
    LATE_S,
    RECOVERY_BIN_S,
    Observed,
    baseline_p95_s,
    connect,
    feedback_counted,
    per_fault,
    reconcile,
    watch_assigned,
)
from bench.sla_timers import overdue_timers, reconcile_sla_timers
from bench.stats import summary_ms
from bench.system import SERVICES, RunningBaton, start_baton

RECOVERY_FACTOR = 2.0
# One lead in this many is a VP: grade A, on the one-minute SLA (all of them would swamp the
# SLA worker at the short run's rate on a 2-core machine, which is a load test, not a fault test).
SHORT_SLA_EVERY = 5
STARTER_RUBRIC = Path(__file__).resolve().parent.parent / "services" / "scoring" / "rubrics" / "starter.yaml"


@dataclass
class Plan:
    rate_per_s: float
    warmup_s: float
    gap_s: float
    freeze_s: float
    cut_s: float
    drain_s: float
    partitions: int
    sla_minutes: int = 1
    # A timer may fire this late (a fault holds the worker back) before it counts as unfired.
    sla_grace_s: float = 45


PLANS = {
    "short": Plan(rate_per_s=10, warmup_s=8, gap_s=12, freeze_s=8, cut_s=8, drain_s=180, partitions=3),
    "full": Plan(rate_per_s=25, warmup_s=15, gap_s=30, freeze_s=30, cut_s=30, drain_s=180, partitions=6),
}


def chaos_rubric(path: Path, sla_minutes: int) -> Path:
    """The starter rubric with grade A's SLA shortened, so its timers come due during the run."""
    text = re.sub(r"(\{grade: A, tier: A, minutes: )\d+", rf"\g<1>{sla_minutes}", STARTER_RUBRIC.read_text())
    if text == STARTER_RUBRIC.read_text():
        raise LookupError("the starter rubric no longer has the grade A SLA line the chaos run shortens")
    path.write_text(text.replace('version: "2026.11-starter"', 'version: "chaos"'))
    return path


def form_body(i: int) -> dict[str, object]:
    return {
        "email": f"chaos-{uuid.uuid4().hex[:16]}@chaos.example",
        "first_name": "Chaos",
        "company": f"Company {i % 97}",
        "job_title": "VP Engineering" if i % SHORT_SLA_EVERY == 0 else "Engineer",
        "company_size": 250,
        "country": "GB",
    }


async def offer_load(url: str, plan: Plan, seen: Observed, stop: asyncio.Event, t0: float) -> None:
    """Posts on a fixed schedule regardless of responses (no coordinated omission)."""
    interval = 1 / plan.rate_per_s
    # Posts beyond the pool wait here, not in httpcore's pool, whose request queue costs
    # quadratic time and starved the event loop when ingest stalled under a fault.
    in_flight = asyncio.Semaphore(64)
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        tasks: set[asyncio.Task[None]] = set()

        async def one(i: int, scheduled: float) -> None:
            try:
                async with in_flight:
                    response = await client.post(url, json=form_body(i))
            except httpx.HTTPError as exc:
                seen.http_errors.append((scheduled - t0, type(exc).__name__))
                return
            if response.status_code == 202:
                seen.sent[response.json()["lead_id"]] = scheduled
            else:
                seen.http_errors.append((scheduled - t0, str(response.status_code)))

        i = 0
        start = time.perf_counter()
        while not stop.is_set():
            scheduled = start + i * interval
            delay = scheduled - time.perf_counter()
            await asyncio.sleep(max(0.0, delay))
            task = asyncio.create_task(one(i, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        await asyncio.gather(*tasks)


async def drive(baton: RunningBaton, plan: Plan) -> dict[str, Any]:
    seen = Observed()
    stop_load, stop_watch = asyncio.Event(), asyncio.Event()
    watcher = asyncio.create_task(watch_assigned(baton.local["kafka_bootstrap_servers"], seen, stop_watch))
    t0 = time.perf_counter()
    url = f"{baton.url('ingest')}/v1/forms/demo-request/submissions"
    load = asyncio.create_task(offer_load(url, plan, seen, stop_load, t0))
    faults: list[Fault] = []

    async def pause(seconds: float) -> None:
        await asyncio.sleep(seconds)
        for task in (load, watcher):
            if task.done():
                task.result()

    await pause(plan.warmup_s)
    for name in SERVICES:
        print(f"chaos: kill -9 {name}", flush=True)
        faults.append(await kill_service(baton, name))
        await pause(plan.gap_s)
    print(f"chaos: freeze the broker for {plan.freeze_s:g}s", flush=True)
    faults.append(await freeze_broker(baton, plan.freeze_s))
    await pause(plan.gap_s)
    print(f"chaos: cut the broker off the network for {plan.cut_s:g}s", flush=True)
    faults.append(await cut_network(baton, plan.cut_s))
    await pause(plan.gap_s)
    print("chaos: restart PostgreSQL", flush=True)
    faults.append(await restart_postgres(baton))
    await pause(plan.gap_s)
    stop_load.set()
    await load
    load_end = time.perf_counter()
    print(f"chaos: load stopped; draining (up to {plan.drain_s:g}s)", flush=True)
    deadline = load_end + plan.drain_s
    # Drained: every accepted lead seen on `lead.assigned` and counted by feedback at every stage,
    # and no SLA timer overdue by more than the grace left unfired (how late they fired is
    # reported apart; a timer still unfired when the drain gives up counts as never fired).
    while time.perf_counter() < deadline and not (
        seen.sent.keys() <= seen.arrivals.keys()
        and await feedback_counted(baton, list(seen.sent))
        and await overdue_timers(baton, plan.sla_grace_s) == 0
    ):
        await asyncio.sleep(1)
    drained_after = round(time.perf_counter() - load_end, 2)
    # Not drained: say which part stopped while the system is still up to be asked.
    stalled = await diagnose(baton) if time.perf_counter() >= deadline else None
    stop_watch.set()
    await watcher
    latencies = [seen.arrivals[lead] - at for lead, at in seen.sent.items() if lead in seen.arrivals]
    baseline = baseline_p95_s(faults, seen)
    threshold_s = RECOVERY_FACTOR * baseline if baseline is not None else LATE_S
    reconciliation = await reconcile(baton, seen)
    conn = await connect(baton)
    try:
        reconciliation["sla_timers"].update(
            await reconcile_sla_timers(
                conn,
                baton.local["kafka_bootstrap_servers"],
                [uuid.UUID(lead) for lead in seen.sent],
                grace_s=plan.sla_grace_s,
            )
        )
    finally:
        await conn.close()
    return {
        "plan": asdict(plan),
        "posted": len(seen.sent) + len(seen.http_errors),
        "http_errors": len(seen.http_errors),
        "drained_after_s": drained_after,
        "not_drained": stalled,
        "late_total": sum(1 for x in latencies if x > LATE_S),
        "latency": summary_ms(latencies),
        "baseline_p95_ms": None if baseline is None else round(baseline * 1000, 2),
        "recovery_threshold_ms": round(threshold_s * 1000, 2),
        "faults": per_fault(faults, seen, t0, load_end, threshold_s=threshold_s),
        "reconciliation": reconciliation,
        # [seconds from the start when posted, seconds until `lead.assigned` or null], to re-read runs.
        "samples": [
            [round(at - t0, 3), round(seen.arrivals[lead] - at, 3) if lead in seen.arrivals else None]
            for lead, at in sorted(seen.sent.items(), key=lambda item: item[1])
        ],
    }


def run(plan: Plan, *, keep_home: bool = False) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="baton-chaos-"))
    try:
        if keep_home:
            print(f"chaos: logs and data kept in {tmp}/home", flush=True)
        print("chaos: starting baton up (embedded infrastructure)...", flush=True)
        rubric = chaos_rubric(tmp / "chaos-rubric.yaml", plan.sla_minutes)
        baton = start_baton(
            tmp / "home",
            partitions=plan.partitions,
            cuttable_broker=True,
            env={"BATON_RUBRIC_PATH": str(rubric)},
        )
        try:
            results = asyncio.run(drive(baton, plan))
            results["supervisor"] = [
                line for line in baton.output.read_text(errors="replace").splitlines() if "restarting" in line
            ]
            return results
        finally:
            baton.stop()
            stop_postgres(baton.home)
    finally:
        if not keep_home:
            shutil.rmtree(tmp, ignore_errors=True)


def verdict(results: dict[str, Any]) -> tuple[int, int, int]:
    """(lost, duplicated, SLA timers fired other than exactly once) over the whole run."""
    rec = results["reconciliation"]
    timers = rec["sla_timers"]
    lost = max(rec["lost"].values())
    duplicated = rec["duplicated"]["assignment_rows"] + rec["duplicated"]["assignment_ids_on_topic"]
    not_once = (
        timers["unfired_past_grace"]
        + timers["double_fired"]
        + timers["breach_not_published"]
        + timers["phantom_breaches"]
    )
    return lost, duplicated, not_once


def print_table(results: dict[str, Any]) -> None:
    header = (
        f"{'fault':<24}{'ready s':>9}{'recovery s':>12}{'late cleared s':>16}{'posted':>8}"
        f"{'http err':>10}{'late':>6}{'p99 ms':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in results["faults"]:
        print(
            f"{row['name']:<24}{row['ready_after_s'] if row['ready_after_s'] is not None else '-':>9}"
            f"{row['recovery_s'] if row['recovery_s'] is not None else 'never':>12}"
            f"{row['late_cleared_s']:>16}{row['posted_in_window']:>8}{row['http_errors_in_window']:>10}"
            f"{row['late']:>6}{row['latency']['p99_ms'] or '-':>10}"
        )
    rec = results["reconciliation"]
    lost, duplicated, not_once = verdict(results)
    print("-" * len(header))
    print(
        f"recovery: until the p95 of every {RECOVERY_BIN_S:g} s of posts is under "
        f"{results['recovery_threshold_ms']} ms ({RECOVERY_FACTOR:g} x the pre-fault p95 "
        f"{results['baseline_p95_ms']} ms)"
    )
    print(
        f"accepted {rec['accepted']}  scored {rec['scored']}  mql {rec['mql']}  assigned {rec['assigned']}  "
        f"http errors {results['http_errors']}  late (> {LATE_S:g} s) {results['late_total']}"
    )
    print(f"lost {lost} {json.dumps(rec['lost'])}")
    print(f"duplicated {duplicated} {json.dumps(rec['duplicated'])}")
    print(f"funnel matches: {rec['funnel']['matches']} {json.dumps(rec['funnel'])}")
    print(f"sla timers fired other than once {not_once} {json.dumps(rec['sla_timers'])}")
    print(f"drained after {results['drained_after_s']} s")
    if results.get("not_drained"):
        print("not drained; each service at the deadline:")
        print(json.dumps(results["not_drained"], indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--short", action="store_true", help="the CI version (about 4 minutes)")
    parser.add_argument("--rate", type=float, help="form posts per second (overrides the plan)")
    parser.add_argument("--freeze-seconds", type=float, help="how long the broker stays frozen")
    parser.add_argument("--cut-seconds", type=float, help="how long the broker stays cut off")
    parser.add_argument("--keep-home", action="store_true", help="keep the logs and data folder")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    plan = PLANS["short" if args.short else "full"]
    if args.rate:
        plan.rate_per_s = args.rate
    if args.freeze_seconds:
        plan.freeze_s = args.freeze_seconds
    if args.cut_seconds:
        plan.cut_s = args.cut_seconds
    # The observers ride out the faults by design; aiokafka's reconnect warnings are noise here.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    results = run(plan, keep_home=args.keep_home)
    results["finished_at"] = datetime.now(UTC).isoformat()
    results["lost"], results["duplicated"], results["sla_timers_not_fired_once"] = verdict(results)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"chaos-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print_table(results)
    print(f"chaos: wrote {path}")
    failed = results["lost"] or results["duplicated"] or results["sla_timers_not_fired_once"]
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
