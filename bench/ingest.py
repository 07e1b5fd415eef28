"""`python -m bench.ingest`: ingest's accept path against its targets, measured in one run.

1. form posts/s of ingest against a bare FastAPI endpoint parsing the same body (`bench/bare_app.py`),
   both under uvicorn with the same worker count (target: ratio >= 0.6);
2. `/v1/events` events/s with 1,000-item batches, half with emails, half anonymous (target:
   >= 20,000 events/s per worker);
3. form-post accept latency at half the maximum throughput, open loop (target: p99 < 20 ms).

Ingest runs alone against an embedded PostgreSQL and broker (no consumers beside it), so the
figures are the accept path's. The load generator, PostgreSQL and the broker share the
machine's cores with the servers: on 2 cores every figure is a floor, and the load average
printed with the table says how busy the machine was. Form posts are driven by `wrk` when it is
installed (`apt-get install wrk`), else by the asyncio client in `bench/rawhttp.py`.
Prints a table and writes bench/results/ingest-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg
import psutil

from baton.embedded import EmbeddedBroker, EmbeddedPostgres, free_port, terminate, wait_for_port
from bench import rawhttp
from bench.harness import print_rows, write_results
from bench.stats import summary_ms
from shared.auth import Role, issue_token

FORM_ID = "bench"
WRK_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"email":"wrk-%s-%d@bench.example","first_name":"Bench",' ..
    '"company":"Company %d","job_title":"Engineer","company_size":120,"country":"GB"}',
    run, counter, counter % 97)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


@dataclass
class Servers:
    ingest_port: int
    bare_port: int
    durable_port: int
    admin: str
    marketing: str
    database_host: str = ""
    pids: dict[int, int] = field(default_factory=dict)
    baseline_port: int = 0

    def cpu_s(self, port: int) -> float:
        """CPU seconds used so far by the server on `port`, its workers included."""
        process = psutil.Process(self.pids[port])
        total = 0.0
        for each in [process, *process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = each.cpu_times()
                total += times.user + times.system
        return total


def form_body(run: str, i: int) -> bytes:
    return (
        f'{{"email":"bench-{run}-{i}@bench.example","first_name":"Bench","company":"Company {i % 97}",'
        f'"job_title":"Engineer","company_size":{50 + i % 1000},"country":"GB"}}'
    ).encode()


def event_batches(run: str, *, count: int, size: int = 1000, people: int = 20_000) -> list[bytes]:
    """`count` distinct batches; half the items name a person from a pool of `people` (so leads
    recur, as in a real activity stream), half are anonymous visitors."""
    batches = []
    for b in range(count):
        items = []
        for i in range(size):
            n = (b * size + i) % people
            if i % 2:
                items.append(
                    {"type": "page_view", "visitor_id": f"v-{run}-{n}", "url": "https://x.example/p"}
                )
            else:
                items.append({"type": "email_click", "email": f"p{n}@{run}.example", "name": "newsletter"})
        batches.append(json.dumps({"events": items}).encode())
    return batches


def _call(
    port: int, method: str, path: str, token: str, body: dict[str, Any] | None = None, *, api_key: str = ""
) -> Any:
    headers = {"X-Api-Key": api_key} if api_key else {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={**headers, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait_ready(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if json.loads(response.read()).get("status") == "ready":
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"ingest on port {port} did not become ready")


def _uvicorn(
    app: str, port: int, workers: int, env: dict[str, str], log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--workers", str(workers)]
    command += ["--no-access-log", "--log-level", "warning"]
    if app.endswith("create_app"):
        command.append("--factory")
    with open(log, "ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)


@contextmanager
def servers(tmp: Path, workers: int, baseline: Path | None = None) -> Iterator[Servers]:
    """Embedded PostgreSQL and broker, ingest migrated and served, and the bare endpoint; with
    `baseline` (another source tree), that tree's ingest too, on the same database and broker."""
    from baton.launcher import all_topics
    from baton.services import upgrade
    from shared.kafka import ensure_topics

    postgres = EmbeddedPostgres(tmp / "pg")
    broker = EmbeddedBroker(free_port(), log_path=tmp / "broker.log")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        database_url = postgres.start()
        bootstrap = broker.start()
        upgrade("ingest", database_url)
        asyncio.run(ensure_topics(bootstrap, all_topics(), partitions=6))
        secret = secrets.token_urlsafe(32)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BATON_")},
            "BATON_DATABASE_URL": database_url,
            "BATON_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "BATON_JWT_SECRET": secret,
            # The bench measures the accept path, not the per-source limiter.
            "BATON_SOURCE_RATE_LIMIT_PER_MINUTE": "1000000000",
            "BATON_SOURCE_RATE_LIMIT_BURST": "1000000",
        }
        host = parse_qs(urlparse(database_url).query)["host"][0]
        ports = Servers(free_port(), free_port(), free_port(), "", "", host)
        processes.append(
            _uvicorn("services.ingest.main:create_app", ports.ingest_port, workers, env, tmp / "ingest.log")
        )
        processes.append(_uvicorn("bench.bare_app:app", ports.bare_port, workers, env, tmp / "bare.log"))
        processes.append(
            _uvicorn("bench.bare_app:durable_app", ports.durable_port, workers, env, tmp / "durable.log")
        )
        if baseline is not None:
            ports.baseline_port = free_port()
            processes.append(
                _uvicorn(
                    "services.ingest.main:create_app",
                    ports.baseline_port,
                    workers,
                    env,
                    tmp / "baseline.log",
                    cwd=baseline,
                )
            )
            _wait_ready(ports.baseline_port)
        ports.pids = {
            port: process.pid
            for port, process in zip(
                (ports.ingest_port, ports.bare_port, ports.durable_port, ports.baseline_port),
                processes,
                strict=False,
            )
        }
        _wait_ready(ports.ingest_port)
        wait_for_port("127.0.0.1", ports.bare_port)
        wait_for_port("127.0.0.1", ports.durable_port)
        ports.admin = issue_token(secret, role=Role.ADMIN, subject="bench")
        ports.marketing = issue_token(secret, role=Role.MARKETING, subject="bench")
        yield ports
    finally:
        for process in processes:
            terminate(process, 20)
        broker.stop()
        postgres.stop()


def wrk_form_posts(port: int, *, connections: int, seconds: float, run: str) -> dict[str, Any] | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'run = "{run}"\n' + WRK_SCRIPT)
    url = f"http://127.0.0.1:{port}/v1/forms/{FORM_ID}/submissions"
    command = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        script.name,
        url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    per_s = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "per_s": round(per_s),
        "errors": int(errors.group(1)) if errors else 0,
        "p99_ms": round(float(p99.group(1)) * scale[p99.group(2)], 2) if p99 else None,
        "generator": "wrk -t1",
    }


async def raw_form_posts(port: int, *, connections: int, seconds: float, run: str) -> dict[str, Any]:
    path = f"/v1/forms/{FORM_ID}/submissions"
    outcome = await rawhttp.closed_loop(
        port, lambda i: rawhttp.post(path, form_body(run, i)), connections=connections, duration_s=seconds
    )
    latency = summary_ms(outcome.latencies_s)
    return {
        "per_s": round(outcome.per_second),
        "errors": outcome.errors,
        "p99_ms": latency["p99_ms"],
        "generator": "bench.rawhttp",
    }


def form_posts(ports: Servers, port: int, *, connections: int, seconds: float, run: str) -> dict[str, Any]:
    cpu_before = ports.cpu_s(port)
    found = wrk_form_posts(port, connections=connections, seconds=seconds, run=run)
    if found is None:
        found = asyncio.run(raw_form_posts(port, connections=connections, seconds=seconds, run=run))
    # Server CPU per post does not depend on how busy the machine is, unlike posts per second.
    posts = found["per_s"] * seconds
    found["server_cpu_ms_per_post"] = (
        round(1000 * (ports.cpu_s(port) - cpu_before) / posts, 3) if posts else None
    )
    return found


async def events_per_second(
    port: int, key: str, *, connections: int, seconds: float, run: str
) -> dict[str, Any]:
    batches = event_batches(run, count=20)
    headers = f"X-Api-Key: {key}\r\n"
    requests = [rawhttp.post("/v1/events", body, headers=headers) for body in batches]
    outcome = await rawhttp.closed_loop(
        port,
        lambda i: requests[i % len(requests)],
        connections=connections,
        duration_s=seconds,
        keep_bodies=True,
    )
    accepted = sum(json.loads(body).get("accepted", 0) for body in outcome.bodies)
    return {
        "batches": outcome.requests,
        "errors": outcome.errors,
        "events_per_s": round(accepted / outcome.seconds) if outcome.seconds else 0,
        "batch_latency": summary_ms(outcome.latencies_s),
    }


async def latency_at(port: int, *, rate: float, seconds: float, run: str) -> dict[str, Any]:
    path = f"/v1/forms/{FORM_ID}/submissions"
    outcome = await rawhttp.open_loop(
        port, lambda i: rawhttp.post(path, form_body(run, i)), rate_per_s=rate, duration_s=seconds
    )
    return {
        "offered_per_s": round(rate),
        "errors": outcome.errors,
        "latency": summary_ms(outcome.latencies_s),
    }


def measure(args: argparse.Namespace, ports: Servers) -> dict[str, Any]:
    run = secrets.token_hex(4)
    _call(ports.ingest_port, "POST", "/v1/forms", ports.marketing, {"id": FORM_ID, "name": "Bench"})
    key = _call(
        ports.ingest_port, "POST", "/v1/sources", ports.admin, {"id": f"bench-{run}", "name": "Bench"}
    )["api_key"]
    results: dict[str, Any] = {"workers": args.workers, "load_average_before": os.getloadavg()}
    print("bench.ingest: warming up...", flush=True)
    form_posts(ports, ports.ingest_port, connections=args.connections, seconds=2, run=f"{run}w")
    print("bench.ingest: form posts, bare endpoint, durable bare endpoint, then ingest...", flush=True)
    bare = form_posts(
        ports, ports.bare_port, connections=args.connections, seconds=args.seconds, run=f"{run}b"
    )
    durable = form_posts(
        ports, ports.durable_port, connections=args.connections, seconds=args.seconds, run=f"{run}d"
    )
    ingest = form_posts(
        ports, ports.ingest_port, connections=args.connections, seconds=args.seconds, run=f"{run}i"
    )
    results["form_post"] = {
        "bare": bare,
        "ingest": ingest,
        "ratio_ingest_to_bare": round(ingest["per_s"] / bare["per_s"], 3) if bare["per_s"] else None,
        "durable_bare": durable,
        "ratio_durable_bare_to_bare": round(durable["per_s"] / bare["per_s"], 3) if bare["per_s"] else None,
        "ratio_ingest_to_durable_bare": round(ingest["per_s"] / durable["per_s"], 3)
        if durable["per_s"]
        else None,
        "cpu_ratio_bare_to_ingest": (
            round(bare["server_cpu_ms_per_post"] / ingest["server_cpu_ms_per_post"], 3)
            if bare["server_cpu_ms_per_post"] and ingest["server_cpu_ms_per_post"]
            else None
        ),
    }
    rate = max(1.0, ingest["per_s"] / 2)
    results["outbox_drain_s"] = [asyncio.run(drain_outbox(ports))]
    print(f"bench.ingest: accept latency at {rate:.0f} form posts/s (half the maximum)...", flush=True)
    results["latency_at_half_max"] = asyncio.run(
        latency_at(ports.ingest_port, rate=rate, seconds=args.seconds, run=f"{run}l")
    )
    results["outbox_drain_s"].append(asyncio.run(drain_outbox(ports)))
    print("bench.ingest: /v1/events with 1,000-item batches...", flush=True)
    results["events"] = asyncio.run(
        events_per_second(
            ports.ingest_port, key, connections=args.event_connections, seconds=args.seconds, run=run
        )
    )
    results["outbox_drain_s"].append(asyncio.run(drain_outbox(ports)))
    results["load_average_after"] = os.getloadavg()
    return results


async def drain_outbox(ports: Servers, timeout_s: float = 180) -> float:
    """Seconds until ingest's relay has published everything staged so far: each phase starts
    with the relay idle, not still working off the previous phase in the same process."""
    started = time.perf_counter()
    connection = await asyncpg.connect(host=ports.database_host, user="postgres", database="postgres")
    try:
        while time.perf_counter() - started < timeout_s:
            if not await connection.fetchval("SELECT count(*) FROM ingest.outbox WHERE sent_at IS NULL"):
                break
            await asyncio.sleep(0.2)
    finally:
        await connection.close()
    return round(time.perf_counter() - started, 1)


def print_table(results: dict[str, Any]) -> None:
    fp, ev, lat = results["form_post"], results["events"], results["latency_at_half_max"]
    rows = [
        (f"form posts/s, bare FastAPI ({fp['bare']['generator']})", fp["bare"]["per_s"]),
        ("form posts/s, ingest (DB + outbox)", f"{fp['ingest']['per_s']} ({fp['ingest']['errors']} errors)"),
        ("  ratio ingest / bare (target >= 0.6)", fp["ratio_ingest_to_bare"]),
        (
            "  server CPU ms per post, bare / ingest",
            f"{fp['bare']['server_cpu_ms_per_post']} / {fp['ingest']['server_cpu_ms_per_post']} "
            f"(ratio {fp['cpu_ratio_bare_to_ingest']})",
        ),
        ("form posts/s, durable bare (+ one INSERT per post)", fp["durable_bare"]["per_s"]),
        ("  ratio durable bare / bare", fp["ratio_durable_bare_to_bare"]),
        ("  ratio ingest / durable bare", fp["ratio_ingest_to_durable_bare"]),
        ("/v1/events events/s, 1,000-item batches (target >= 20,000/worker)", ev["events_per_s"]),
        ("  batch p50 / p99 ms", f"{ev['batch_latency']['p50_ms']} / {ev['batch_latency']['p99_ms']}"),
        (
            f"accept p50 / p99 ms at {lat['offered_per_s']}/s (target p99 < 20)",
            f"{lat['latency']['p50_ms']} / {lat['latency']['p99_ms']} ({lat['errors']} errors)",
        ),
        ("uvicorn workers each", results["workers"]),
        ("outbox drained after each phase in s", results["outbox_drain_s"]),
        (
            "load average before / after",
            f"{results['load_average_before']} / {results['load_average_after']}",
        ),
    ]
    print_rows(rows)
    print(f"(the load generator, PostgreSQL and the broker share this machine's {os.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers, for ingest and bare alike")
    parser.add_argument("--connections", type=int, default=32, help="concurrent form posters")
    parser.add_argument("--event-connections", type=int, default=2, help="concurrent batch posters")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="baton-bench-ingest-") as tmp,
        servers(Path(tmp), args.workers) as ports,
    ):
        results = measure(args, ports)
    path = write_results(args.out, "ingest", results)
    print_table(results)
    print(f"bench.ingest: wrote {path}")


if __name__ == "__main__":
    main()
