"""Do rep notifications slow routing? Form post -> `lead.assigned` at a fixed rate with every
notification channel off, then on, then off beside busy loops, in turns, each in a fresh `baton up`.

"On" is every channel a rep can choose at once: each rep's own Slack-compatible webhook (with
their member id to mention), email through a real SMTP server (aiosmtpd) and an outbound
webhook subscription to `lead.assigned` (Standard Webhooks signed). The receivers are local and
answer at once, so what is measured is the notifiers' share of the machine and of routing's
database, not a slow Slack; they run in a process of their own at nice 10, as the outside world
they stand for costs this machine nothing and must not slow the load generator. Notifications
are written in the assignment's transaction and sent by their own workers, in a process of
their own by default (`--senders separate`, as `baton up` runs them, niced by 10; `inline` runs
them in routing's process, beside the assignment path).

Latency on a shared machine follows its load, so three things make the comparison fair:
- the phases run in turns (`--turns`), and each kind's figure is the median of its phases, so a
  drift over the run (history growing, caches warming) falls on every kind alike;
- each phase runs in a `baton up` of its own, so no phase inherits another's backlog of messages
  or the SLA reminders and breaches of its untouched leads (tier A is due in 5 minutes);
- the control phase ("busy") runs the pipeline with notifications off beside `--busy` processes
  that spin at the receivers' nice (`bench.busy`): as many processes as notifications add, and
  at their priority, doing nothing for anyone. Where the pipeline already fills the cores, any
  background process slows it by its share of them; if notifications slow it no more than the
  busy loops do, what they change is the machine's spare core, not the assignment path.
The CPU seconds each process spent in each phase are reported too: routing's CPU per lead on/off
shows whether the sends still run in the assignment path's process, PostgreSQL's what their
statements cost the database the assignments share. With `--senders-cpu N` the senders and the
receivers get CPU N of their own and everything else the other CPUs, as the chart gives the
senders pods of their own; the table says so. The default pins nothing.
Prints a table and writes notify-<UTC time>.json into --out (`python -m bench.notify_latency`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg
import httpx
import psutil

from bench.busy import BusyLoops
from bench.harness import print_rows, write_results
from bench.notify_receivers import RECEIVERS_NICENESS, Receivers
from bench.pinning import pin_senders_apart, postgres_processes, split_cpus
from bench.pipeline import end_to_end
from bench.system import RunningBaton, served_name, start_baton


async def notifications_on(baton: RunningBaton, receivers: Receivers) -> None:
    """Every seeded rep chooses Slack (their own webhook and member id) and email, and one
    subscription receives every `lead.assigned`."""
    base = f"http://127.0.0.1:{receivers.http_port}"
    async with httpx.AsyncClient(
        base_url=baton.url("routing"), headers=baton.headers("admin"), timeout=60
    ) as routing:
        for i, rep in enumerate(baton.local["reps"]):
            response = await routing.patch(
                f"/v1/reps/{rep['id']}",
                json={
                    "slack_webhook_url": f"{base}/slack/{rep['id']}",
                    "slack_user_id": f"U0BENCH{i:03d}",
                    "notify_channels": ["slack", "email"],
                },
            )
            response.raise_for_status()
        response = await routing.post(
            "/v1/webhooks", json={"url": f"{base}/hook", "event_types": ["lead.assigned"]}
        )
        response.raise_for_status()


# Messages due now and not yet out. SLA reminders of earlier phases' leads come due later (at a
# share of the SLA) and are counted by the receivers too, so counts alone would end the wait early.
_UNSENT = """
SELECT (SELECT count(*) FROM routing.notification WHERE status = 'pending' AND next_attempt_at <= now())
     + (SELECT count(*) FROM routing.webhook_delivery WHERE status = 'pending' AND next_attempt_at <= now())
"""


async def delivered(
    baton: RunningBaton, receivers: Receivers, before: Counter[str], leads: int, *, timeout_s: float
) -> Counter[str]:
    """What the receivers got since `before`, once each lead's three messages arrived and no
    message is left due (or the time is up: a backlog is worth reporting, not waiting for)."""
    deadline = time.perf_counter() + timeout_s
    connection = await _connect(baton)
    try:
        while time.perf_counter() < deadline:
            got = receivers.counts - before
            if all(
                got[kind] >= leads for kind in ("slack", "email", "webhook")
            ) and not await connection.fetchval(_UNSENT):
                break
            await asyncio.sleep(0.5)
    finally:
        await connection.close()
    return receivers.counts - before


async def _connect(baton: RunningBaton) -> asyncpg.Connection:
    host = parse_qs(urlparse(baton.local["database_url"]).query)["host"][0]
    connection: asyncpg.Connection = await asyncpg.connect(host=host, user="postgres", database="postgres")
    return connection


_BACKLOG = """
SELECT (SELECT count(*) FROM ingest.outbox WHERE event_type = 'lead.ingested')
     - (SELECT count(*) FROM routing.outbox WHERE event_type = 'lead.assigned' AND sent_at IS NOT NULL)
"""


async def settled(baton: RunningBaton, *, timeout_s: float) -> float | None:
    """Wait until every lead posted so far is assigned and announced, so a phase does not
    inherit the previous one's backlog; returns the seconds it took (None: it never did)."""
    connection = await _connect(baton)
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < timeout_s:
            if await connection.fetchval(_BACKLOG) <= 0:
                return round(time.perf_counter() - started, 1)
            await asyncio.sleep(1)
        return None
    finally:
        await connection.close()


PHASES = ("off", "on", "busy")


def phase_kinds(args: argparse.Namespace) -> list[str]:
    """The kinds of phase a turn runs: the control ("busy") only with `--busy` loops to run."""
    return [kind for kind in PHASES if kind != "busy" or args.busy]


async def phase(
    args: argparse.Namespace, baton: RunningBaton, receivers: Receivers, kind: str
) -> dict[str, Any]:
    """One phase of `kind`: notifications off, on, or off beside busy loops (`bench.busy`)."""
    if kind == "on":
        await notifications_on(baton, receivers)
    busy = BusyLoops(args.busy, RECEIVERS_NICENESS) if kind == "busy" else None
    if busy is not None:
        busy.start()
    try:
        print(f"bench: notifications {kind}, {args.rate:g} MQLs/s for {args.seconds:g}s...", flush=True)
        before = Counter(receivers.counts)
        # The machine may be shared: a phase's figures mean little under another's load.
        load_before, cpu_before = _load(), cpu_seconds(baton, receivers, busy)
        run = await end_to_end(baton, args.rate, args.seconds)
        run["kind"] = kind
        run["load_average_before"] = load_before
        run["settled_after_s"] = await settled(baton, timeout_s=args.settle_seconds)
        # Up to every lead assigned (the same point in every phase), then until every message came.
        run["cpu_s"] = _spent(cpu_before, cpu_seconds(baton, receivers, busy))
        assigned = run["sent"] - run["http_errors"]
        if kind == "on":
            # What the sends cost in all, not only up to the last assignment.
            run["notifications"] = dict(await delivered(baton, receivers, before, assigned, timeout_s=180))
            run["cpu_s_until_delivered"] = _spent(cpu_before, cpu_seconds(baton, receivers, busy))
        else:
            run["notifications"] = dict(receivers.counts - before)
        return run
    finally:
        if busy is not None:
            busy.stop()


def summarize(args: argparse.Namespace, phases: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = phase_kinds(args)
    by_kind = {kind: [run for run in phases if run["kind"] == kind] for kind in kinds}
    on = by_kind["on"]
    messages = sum(sum(run["notifications"].values()) for run in on)
    senders_s = sum(run["cpu_s_until_delivered"].get("routing-senders", 0.0) for run in on)
    return {
        "offered_per_s": args.rate,
        "senders": args.senders,
        "turns": args.turns,
        "busy_loops": args.busy,
        "phases": phases,
        "latency_ms": {kind: _median_latency(runs) for kind, runs in by_kind.items()},
        # Medians of each kind's phases, taken in turns: a drift over the run falls on every kind.
        "ratio_on_to_off": _ratio(by_kind["on"], by_kind["off"]),
        "ratio_busy_to_off": _ratio(by_kind["busy"], by_kind["off"]) if "busy" in by_kind else None,
        "senders_cpu_ms_per_message": round(1000 * senders_s / messages, 2)
        if senders_s and messages
        else None,
        # CPU time hardly depends on what else the machine runs, unlike latency: what the
        # notifications cost routing's own process (the assignment path) per lead, on / off.
        "routing_cpu_per_lead_on_to_off": _per_lead_ratio(by_kind["off"], on, "routing"),
        "postgres_cpu_per_lead_on_to_off": _per_lead_ratio(by_kind["off"], on, "postgres"),
        "load_average": _load(),
    }


def _median_latency(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {key: statistics.median(run["latency"][key] for run in runs) for key in ("p50_ms", "p99_ms")}


def _ratio(runs: list[dict[str, Any]], baseline: list[dict[str, Any]]) -> dict[str, float | None]:
    now, was = _median_latency(runs), _median_latency(baseline)
    return {
        key.removesuffix("_ms"): round(now[key] / was[key], 2) if was[key] else None
        for key in ("p50_ms", "p99_ms")
    }


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu_seconds(baton: RunningBaton, receivers: Receivers, busy: BusyLoops | None) -> dict[str, float]:
    """CPU seconds (user + system) each process under `baton up` has used so far, PostgreSQL's
    (its postmaster, the backends it reaped and those alive: the senders' statements run there),
    the receivers' and the busy loops'."""
    figures: dict[str, float] = {}
    if receivers.pid is not None:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = psutil.Process(receivers.pid).cpu_times()
            figures["receivers"] = times.user + times.system
    if busy is not None:
        figures["busy loops"] = busy.cpu_seconds()
    for child in psutil.Process(baton.process.pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            name, times = served_name(child.cmdline()), child.cpu_times()
            if name is not None:
                figures[name] = times.user + times.system
    postgres = postgres_processes(baton)
    if postgres:
        # A backend that ended is counted in its postmaster's children's times, not lost.
        spent = 0.0
        for process in postgres:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                spent += times.user + times.system
                if process is postgres[0]:
                    spent += times.children_user + times.children_system
        figures["postgres"] = spent
    return figures


def _spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 2) for name in sorted(after)}


def _per_lead_ratio(off: list[dict[str, Any]], on: list[dict[str, Any]], process: str) -> float | None:
    def per_lead(runs: list[dict[str, Any]]) -> float | None:
        spent, leads = (
            sum(run["cpu_s"].get(process, 0.0) for run in runs),
            sum(int(run["sent"]) for run in runs),
        )
        return spent / leads if spent and leads else None

    was, now = per_lead(off), per_lead(on)
    return round(now / was, 2) if was and now is not None else None


async def run_async(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """Each phase in a `baton up` of its own: a lead of the bench's form is due for first touch
    in 5 minutes (tier A), so in a long-lived `baton up` the SLA reminders, breaches and
    escalations of earlier phases' untouched leads would land on later phases, more with each."""
    receivers = Receivers()
    await asyncio.to_thread(receivers.start)
    env = {
        "BATON_SMTP_HOST": "127.0.0.1",
        "BATON_SMTP_PORT": str(receivers.smtp_port),
        "BATON_PUBLIC_URL": "http://127.0.0.1:8000",
        "BATON_ROUTING_SENDERS": args.senders,
    }
    kinds = phase_kinds(args)
    phases, pinned = [], None
    try:
        for index, kind in enumerate([kind for _ in range(args.turns) for kind in kinds]):
            print("bench: starting baton up (embedded infrastructure, SMTP configured)...", flush=True)
            baton = await asyncio.to_thread(start_baton, home / f"phase-{index}", partitions=6, env=env)
            try:
                if args.senders_cpu is not None:
                    own, rest = split_cpus(args.senders_cpu)
                    receivers_pid = [receivers.pid] if receivers.pid is not None else []
                    pin_senders_apart(baton, own, rest, also_own=receivers_pid)
                    pinned = {"senders_and_receivers": sorted(own), "everything_else": sorted(rest)}
                await asyncio.sleep(2)
                phases.append(await phase(args, baton, receivers, kind))
            finally:
                await asyncio.to_thread(baton.stop)
    finally:
        await asyncio.to_thread(receivers.stop)
    return {**summarize(args, phases), "pinned": pinned}


def print_table(results: dict[str, Any]) -> None:
    rate = results["offered_per_s"]
    rows: list[tuple[str, object]] = []
    for index, run in enumerate(results["phases"], 1):
        lat = run["latency"]
        rows.append(
            (
                f"{index}. notifications {run['kind']}: form -> lead.assigned @ {rate:g}/s p50/p95/p99 ms",
                f"{lat['p50_ms']} / {lat['p95_ms']} / {lat['p99_ms']} (unassigned {run['not_assigned_after_30s']})",
            )
        )
        rows.append(("   messages received", json.dumps(run["notifications"], sort_keys=True)))
        rows.append(
            (
                "   load average before; every lead assigned after, s",
                f"{run['load_average_before']}; {run['settled_after_s']}",
            )
        )
        rows.append(("   CPU seconds by process until assigned", json.dumps(run["cpu_s"])))
        if "cpu_s_until_delivered" in run:
            rows.append(("   CPU seconds until every message came", json.dumps(run["cpu_s_until_delivered"])))
    for kind, lat in results["latency_ms"].items():
        rows.append((f"median of the phases {kind}: p50 / p99 ms", f"{lat['p50_ms']} / {lat['p99_ms']}"))
    ratio = results["ratio_on_to_off"]
    rows.append(("latency on / off (p50, p99)", f"{ratio['p50']} / {ratio['p99']}"))
    busy = results["ratio_busy_to_off"]
    if busy is not None:
        rows.append(
            (
                f"latency beside {results['busy_loops']} busy loop(s) at nice {RECEIVERS_NICENESS}, no notifications / off",
                f"{busy['p50']} / {busy['p99']}",
            )
        )
    rows.append(("routing's senders ran", results["senders"]))
    rows.append(("senders' CPU per message (on), ms", results["senders_cpu_ms_per_message"]))
    rows.append(("routing's CPU per lead on / off", results["routing_cpu_per_lead_on_to_off"]))
    rows.append(("PostgreSQL's CPU per lead on / off", results["postgres_cpu_per_lead_on_to_off"]))
    pinned = results["pinned"]
    rows.append(
        (
            "CPUs",
            "shared: every process on every core (the same-machine measurement)"
            if pinned is None
            else f"PINNED: senders and receivers on {pinned['senders_and_receivers']}, "
            f"everything else (services, PostgreSQL, broker, load) on {pinned['everything_else']}",
        )
    )
    rows.append(("load average at end", results["load_average"]))
    print_rows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.notify_latency", description=__doc__)
    parser.add_argument("--rate", type=float, default=100.0, help="MQLs/s to offer")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each phase offers load")
    parser.add_argument(
        "--settle-seconds", type=float, default=300.0, help="longest wait for a phase's backlog to drain"
    )
    parser.add_argument(
        "--turns", type=int, default=3, help="rounds of the phases (off, on, busy), taken in turns"
    )
    parser.add_argument(
        "--busy",
        type=int,
        default=2,
        metavar="N",
        help="busy loops at the receivers' nice beside the pipeline in the control phase, as many "
        "processes as notifications add (the senders and the receivers); 0 skips the phase",
    )
    parser.add_argument(
        "--senders",
        choices=["separate", "inline"],
        default="separate",
        help="routing's senders in their own process (as `baton up` runs them) or in routing's",
    )
    parser.add_argument(
        "--senders-cpu",
        type=int,
        default=None,
        metavar="N",
        help="give routing's senders and the receivers CPU N of their own, everything else the "
        "other CPUs, as the chart gives the senders pods of their own (default: no pinning)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="baton-bench-notify-") as tmp:
        results = asyncio.run(run_async(args, Path(tmp) / "home"))
    path = write_results(args.out, "notify", results)
    print_table(results)
    print(f"bench: wrote {path}")


if __name__ == "__main__":
    main()
