"""`python -m bench.floor_ab --baseline DIR`: this tree's platform floor against another tree's, in one run.

On a shared, loaded machine events per second move with the neighbours' load, so a change to the
consumer runtime is judged by ratios taken within one run: the raw consume-and-produce passthrough,
the baseline tree's floor (`DIR`, e.g. `git archive main | tar -x -C DIR`) and this tree's floor
take turns, round after round, on the same database and broker and the same events. Each floor
runs in a process of its own started in its tree (so it imports that tree's `shared/`), as a
consumer group of its own, on emptied tables. `--profile` runs this tree's floors under py-spy.
Prints a table and writes bench/results/floor_ab-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg

from bench.baselines import broker_passthrough
from bench.harness import produce, service_infrastructure, write_results
from bench.scoring import PARTITIONS, scoring_events

# The floor as `bench.scoring` runs it, in a process of its own; it prints its figures as JSON.
CHILD = """
import asyncio, json, sys
from bench.floor import run_floor
from bench.harness import service_environment
from services.scoring.models import outbox, processed_event
from services.scoring.settings import ScoringSettings
from shared.contracts.topics import ACTIVITY_RECORDED, LEAD_INGESTED
database_url, bootstrap, expected, group = sys.argv[1:5]
service_environment(database_url, bootstrap)
figures = asyncio.run(run_floor(ScoringSettings(), outbox=outbox, processed=processed_event,
    topics=[LEAD_INGESTED, ACTIVITY_RECORDED], expected=int(expected), partitions=int(sys.argv[5]),
    group=group))
print("FLOOR " + json.dumps(figures), flush=True)
"""


async def empty_tables(database_url: str) -> None:
    """Each floor starts from empty tables: an echo stages the same event ids as the last one."""
    host = parse_qs(urlparse(database_url).query)["host"][0]
    connection = await asyncpg.connect(host=host, user="postgres", database="postgres")
    try:
        await connection.execute("TRUNCATE scoring.outbox, scoring.processed_event")
        await connection.execute("VACUUM ANALYZE scoring.outbox")
        await connection.execute("VACUUM ANALYZE scoring.processed_event")
    finally:
        await connection.close()


def run_child(tree: Path, args: list[str], profile: Path | None, more_env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, "-c", CHILD, *args]
    if profile is not None:
        spy = os.environ.get("PY_SPY", "/tmp/spy/bin/py-spy")
        command = [spy, "record", "-r", "200", "-f", "raw", "-o", str(profile), "--", *command]
    env = {**os.environ, **more_env, "PYTHONPATH": f"{tree}:{os.environ.get('PYTHONPATH', '')}".rstrip(":")}
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("FLOOR "):
            found: dict[str, Any] = json.loads(line[len("FLOOR ") :])
            return found
    raise RuntimeError(f"the floor in {tree} failed: {done.stderr[-3000:]}")


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    trees = {"baseline": args.baseline.resolve(), "floor": Path.cwd()}
    async with service_infrastructure("scoring", partitions=PARTITIONS) as (database_url, bootstrap):
        events = scoring_events(args.leads)
        await produce(bootstrap, events, client_id="bench-floor-ab")
        mean_size = sum(len(e.to_bytes()) for e in events) // len(events)
        rounds: list[dict[str, Any]] = []
        for number in range(args.rounds):
            order = ("baseline", "floor") if number % 2 == 0 else ("floor", "baseline")
            found: dict[str, Any] = {}
            raw = await broker_passthrough(bootstrap, messages=len(events), size=mean_size)
            found["passthrough_per_s"] = raw["passthrough_per_s"]
            for name in order:
                await empty_tables(database_url)
                group = f"bench-ab-{name}-{number}"
                profile = args.profile / f"floor-{number}.txt" if args.profile and name == "floor" else None
                child_args = [database_url, bootstrap, str(len(events)), group, str(PARTITIONS)]
                more_env = dict(pair.split("=", 1) for pair in args.env) if name == "floor" else {}
                found[name] = await asyncio.to_thread(run_child, trees[name], child_args, profile, more_env)
            rounds.append(found)
            print(f"bench.floor_ab: round {number + 1}: " + _line(found), flush=True)
    return {"events": len(events), "rounds": rounds, "summary": summary(rounds)}


def _line(found: dict[str, Any]) -> str:
    return f"passthrough {found['passthrough_per_s']}/s, " + ", ".join(
        f"{name} {found[name]['per_s']}/s ({found[name]['process_cpu_s']} s CPU)"
        for name in ("baseline", "floor")
    )


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds of each round's own ratios."""

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    return {
        "baseline_per_passthrough": median([r["baseline"]["per_s"] / r["passthrough_per_s"] for r in rounds]),
        "floor_per_passthrough": median([r["floor"]["per_s"] / r["passthrough_per_s"] for r in rounds]),
        "floor_per_baseline": median([r["floor"]["per_s"] / r["baseline"]["per_s"] for r in rounds]),
        "cpu_floor_per_baseline": median(
            [r["floor"]["process_cpu_s"] / r["baseline"]["process_cpu_s"] for r in rounds]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_ab", description=__doc__)
    parser.add_argument("--baseline", type=Path, required=True, help="the source tree to compare against")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--leads", type=int, default=6_000, help="leads pre-produced (four events each)")
    parser.add_argument("--profile", type=Path, help="a directory for py-spy profiles of this tree's floors")
    parser.add_argument(
        "--env", action="append", default=[], help="KEY=VALUE for this tree's floors only (a setting to try)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(measure(args))
    path = write_results(args.out, "floor_ab", results)
    for name, value in results["summary"].items():
        print(f"{name:<26} {value}")
    print(f"bench.floor_ab: wrote {path}")


if __name__ == "__main__":
    main()
