"""The whole pipeline as `baton up` runs it, next to the machine's own limits, measured in one run.

1. end-to-end latency, form post -> `lead.assigned` on the broker, at fixed open-loop rates
   (ingest's own throughput against a bare endpoint is `bench.ingest`), and where it goes,
   hop by hop (`bench.stages`);
2. raw broker produce and passthrough; raw Postgres single-row transactions;
3. resident memory of each service, idle and after load.
Prints a table and writes pipeline-<UTC time>.json into --out (`python -m bench.pipeline`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import psutil
from aiokafka import AIOKafkaConsumer

from bench.baselines import broker_passthrough, postgres_transactions
from bench.cpu import CpuAccount, per_lead
from bench.harness import print_rows, write_results
from bench.load import open_loop
from bench.stages import STAGES, stage_delays
from bench.stats import summary_ms
from bench.system import RunningBaton, served_name, start_baton


def rss_mb(baton: RunningBaton) -> dict[str, float]:
    """RSS per service (and routing's senders), found by the `serve <name>` in each child's
    command line."""
    figures: dict[str, float] = {}
    for child in psutil.Process(baton.process.pid).children(recursive=True):
        name = served_name(child.cmdline())
        if name is not None:
            figures[name] = round(child.memory_info().rss / 2**20, 1)
    return figures


async def assigned_watcher(bootstrap: str, arrivals: dict[str, float], stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(
        "lead.assigned",
        bootstrap_servers=bootstrap,
        group_id=f"bench-watch-{time.time_ns()}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
        # The instrument must not add latency: the broker holds an empty fetch this long.
        fetch_max_wait_ms=10,
        session_timeout_ms=2000,
        heartbeat_interval_ms=400,
    )
    await consumer.start()
    while not consumer.assignment():
        await asyncio.sleep(0.05)
    await consumer.seek_to_end()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    arrivals.setdefault(record.key.decode(), now)
    finally:
        await consumer.stop()


async def end_to_end(baton: RunningBaton, rate: float, duration_s: float) -> dict[str, Any]:
    arrivals: dict[str, float] = {}
    sent: dict[str, float] = {}
    stop = asyncio.Event()
    watcher = asyncio.create_task(assigned_watcher(baton.local["kafka_bootstrap_servers"], arrivals, stop))
    await asyncio.sleep(3)  # the watcher joins its group
    url = f"{baton.url('ingest')}/v1/forms/demo-request/submissions"
    account = CpuAccount(baton.process.pid, baton.home, os.getpid())
    cpu_start = account.snapshot()
    total, errors = await open_loop(url, rate_per_s=rate, duration_s=duration_s, on_accepted=sent.__setitem__)
    drain_deadline = time.perf_counter() + 30
    while time.perf_counter() < drain_deadline and not sent.keys() <= arrivals.keys():
        await asyncio.sleep(0.2)
    # The window closes when the last lead is assigned (or the drain gives up): its CPU is theirs.
    cpu = per_lead(account.since(cpu_start), len(sent), rate=rate, cores=psutil.cpu_count() or 1)
    stop.set()
    await watcher
    latencies = [arrivals[lead] - at for lead, at in sent.items() if lead in arrivals]
    host = parse_qs(urlparse(baton.local["database_url"]).query).get("host", [None])[0]
    stages = await stage_delays(host, sent) if host else None
    return {
        "offered_per_s": rate,
        "duration_s": duration_s,
        "sent": total,
        "http_errors": errors,
        "not_assigned_after_30s": len(sent.keys() - arrivals.keys()),
        "latency": summary_ms(latencies),
        "stages": stages,
        "cpu": cpu,
    }


async def measure(args: argparse.Namespace, baton: RunningBaton) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": {"cpus": psutil.cpu_count(), "python": sys.version.split()[0]}}
    await asyncio.sleep(2)
    results["memory_idle_mb"] = rss_mb(baton)

    results["end_to_end"] = []
    for rate in args.rates:
        print(f"bench: end-to-end at {rate:g} MQLs/s for {args.e2e_seconds:g}s...", flush=True)
        results["end_to_end"].append(await end_to_end(baton, rate, args.e2e_seconds))
    results["memory_after_load_mb"] = rss_mb(baton)

    print("bench: raw broker and Postgres baselines...", flush=True)
    results["broker_raw"] = await broker_passthrough(baton.local["kafka_bootstrap_servers"])
    host = parse_qs(urlparse(baton.local["database_url"]).query).get("host", [None])[0]
    if host:
        results["postgres_raw"] = await postgres_transactions(host)
    results["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return results


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="baton-bench-") as tmp:
        print("bench: starting baton up (embedded infrastructure)...", flush=True)
        baton = start_baton(Path(tmp) / "home", partitions=6)
        try:
            return asyncio.run(measure(args, baton))
        finally:
            baton.stop()


def print_table(results: dict[str, Any]) -> None:
    rows: list[tuple[str, object]] = []
    for run in results["end_to_end"]:
        lat = run["latency"]
        rows.append(
            (
                f"form -> lead.assigned @ {run['offered_per_s']:g}/s p50/p95/p99 ms",
                f"{lat['p50_ms']} / {lat['p95_ms']} / {lat['p99_ms']} (unassigned {run['not_assigned_after_30s']})",
            )
        )
        for stage, _, _ in STAGES if run.get("stages") else ():
            lat = run["stages"][stage]
            rows.append((f"  {stage} p50/p99 ms", f"{lat['p50_ms']} / {lat['p99_ms']}"))
        cpu = run.get("cpu", {})
        if cpu.get("leads"):
            rows.append(
                (
                    f"  CPU ms per lead @ {run['offered_per_s']:g}/s (sum; cores needed of {cpu['cores']})",
                    f"{cpu['total_ms_per_lead']} ({cpu['cores_needed']}; at most {cpu['max_rate_per_s']}/s)",
                )
            )
            rows.append(("    by process", json.dumps(cpu["ms_per_lead"])))
    if "broker_raw" in results:
        rows.append(("broker raw produce msgs/s", results["broker_raw"]["produce_per_s"]))
        rows.append(("broker raw consume+produce msgs/s", results["broker_raw"]["passthrough_per_s"]))
    if "postgres_raw" in results:
        rows.append(("postgres single-row tx/s (16 conns)", results["postgres_raw"]["transactions_per_s"]))
    rows.append(("RSS idle MB", json.dumps(results["memory_idle_mb"])))
    rows.append(("RSS after load MB", json.dumps(results["memory_after_load_mb"])))
    print_rows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.add_argument(
        "--rates", type=float, nargs="+", default=[100.0, 300.0, 450.0], help="MQLs/s to offer"
    )
    parser.add_argument("--e2e-seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    results = run(args)
    path = write_results(args.out, "pipeline", results)
    print_table(results)
    print(f"bench: wrote {path}")


if __name__ == "__main__":
    main()
