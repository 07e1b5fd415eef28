"""Scoring's performance targets, each next to its baseline measured in the same run.

1. rubric: evaluations per second on one core, starter rubric, realistic leads (target 50,000);
   the reference evaluator is timed on the same leads for comparison.
2. consumer: `lead.ingested` (+ `activity.recorded`) events pre-produced across partitions, then
   scoring's real consumer and outbox relay (the service's lifespan, in this process) run until
   every resulting `lead.scored` is on the broker; the same number of messages goes through a
   raw consume-and-produce passthrough on the same broker (target ratio 0.5).

    python -m bench.scoring [--only rubric|consumer] [--leads N] [--seconds S]

Prints a table and writes bench/results/scoring-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import psutil

from bench.floor import run_floor
from bench.harness import (
    next_to_passthrough,
    print_rows,
    produce,
    service_environment,
    service_infrastructure,
    timed_consumer,
    write_results,
)
from bench.scoring_leads import NOW, activity_specs, lead_fields, lead_ids, sample_leads
from services.scoring.models import outbox, processed_event
from services.scoring.reference_evaluation import evaluate
from services.scoring.rubric import load_rubric
from services.scoring.settings import ScoringSettings
from shared.contracts import (
    ActivityRecorded,
    ActivityRecordedPayload,
    Envelope,
    LeadIngested,
    LeadIngestedPayload,
)
from shared.contracts.topics import ACTIVITY_RECORDED, LEAD_INGESTED, LEAD_SCORED

RUBRIC_TARGET_PER_S = 50_000
CONSUMER_TARGET_RATIO = 0.5
PARTITIONS = 6


def bench_rubric(*, seconds: float, leads: int = 1_000) -> dict[str, Any]:
    """Evaluations per second of the compiled evaluator and of the reference one."""
    rubric = load_rubric()
    sample = sample_leads(leads)
    rubric.evaluate(*sample[0], now=NOW)  # compile outside the timed loop

    def rate(run: Any) -> float:
        # CPU time of this process, not wall time: "per core" on a machine others share. The
        # best of several passes, alternating evaluators, so a noisy neighbour hurts both alike.
        best = 0.0
        for _ in range(passes):
            started = time.process_time()
            for profile, activities in sample:
                run(profile, activities)
            best = max(best, len(sample) / (time.process_time() - started))
        return best

    passes = max(1, round(seconds * 10))
    compiled = reference = 0.0
    for _ in range(2):
        compiled = max(compiled, rate(lambda p, a: rubric.evaluate(p, a, now=NOW)))
        reference = max(reference, rate(lambda p, a: evaluate(rubric, p, a, now=NOW)))
    return {
        "leads": leads,
        "mean_activities": round(sum(len(a) for _, a in sample) / leads, 2),
        "compiled_per_s": round(compiled),
        "reference_per_s": round(reference),
        "speedup": round(compiled / reference, 2),
        "target_per_s": RUBRIC_TARGET_PER_S,
    }


def scoring_events(leads: int, *, seed: int = 11) -> list[Envelope]:
    """One `lead.ingested` per lead and its activities, each lead's events in time order."""
    rng = random.Random(seed)
    events: list[Envelope] = []
    for i, lead_id in enumerate(lead_ids(leads)):
        fields = lead_fields(rng, i)
        at = NOW - timedelta(days=30)
        ingested = LeadIngestedPayload(**fields, form_id="newsletter", submitted_at=at)
        events.append(LeadIngested.new(lead_id=lead_id, payload=ingested, producer="bench", occurred_at=at))
        for kind, properties, age in sorted(activity_specs(rng), key=lambda s: -s[2])[:3]:
            when = at + timedelta(days=min(age, 29))
            activity = ActivityRecordedPayload(
                activity_type=kind,
                occurred_at=when,
                email=fields["email"],
                source="bench",
                properties=properties,
            )
            events.append(
                ActivityRecorded.new(lead_id=lead_id, payload=activity, producer="bench", occurred_at=when)
            )
    return events


async def run_scoring(database_url: str, bootstrap: str, expected: int) -> dict[str, Any]:
    """Scoring's lifespan (consumer, relay, workers) in this process, timed until every
    `lead.scored` is on the broker."""
    service_environment(database_url, bootstrap, BATON_DECAY_PASS_INTERVAL_S="0")
    from services.scoring.main import create_app

    return await timed_consumer(create_app(), LEAD_SCORED, expected)


def database_cpu_s(database_url: str) -> float:
    """CPU seconds the embedded PostgreSQL has used so far: the postmaster, its live backends
    and the ones that exited. What a consumer's statements cost the database, which its own
    process CPU leaves out (and which shares the machine's cores)."""
    host = parse_qs(urlparse(database_url).query)["host"][0]
    postmaster = psutil.Process(int((Path(host) / "postmaster.pid").read_text().split()[0]))
    total = 0.0
    for process in [postmaster, *postmaster.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


async def with_database_cpu(database_url: str, run: Any) -> dict[str, Any]:
    """`run()`'s figures with `database_cpu_s`, the PostgreSQL CPU spent while it ran."""
    before = database_cpu_s(database_url)
    figures: dict[str, Any] = await run()
    return {**figures, "database_cpu_s": round(database_cpu_s(database_url) - before, 2)}


async def bench_consumer(leads: int) -> dict[str, Any]:
    async with service_infrastructure("scoring", partitions=PARTITIONS) as (database_url, bootstrap):
        events = scoring_events(leads)
        await produce(bootstrap, events, client_id="bench-scoring")
        run = partial(
            with_database_cpu, database_url, partial(run_scoring, database_url, bootstrap, len(events))
        )
        figures = await next_to_passthrough(bootstrap, events, "scoring", run)
        print(f"bench: the platform's floor (echo consumer), {len(events)} events...", flush=True)
        floor_run = partial(
            run_floor,
            ScoringSettings(),
            outbox=outbox,
            processed=processed_event,
            topics=[LEAD_INGESTED, ACTIVITY_RECORDED],
            expected=len(events),
            partitions=PARTITIONS,
        )
        floor = await with_database_cpu(database_url, floor_run)
        return {
            "leads": leads,
            "partitions": PARTITIONS,
            **figures,
            "target_ratio": CONSUMER_TARGET_RATIO,
            "floor": floor,
            "floor_ratio": round(floor["per_s"] / figures["passthrough_per_s"], 3),
            "scoring_over_floor": round(figures["scoring"]["per_s"] / floor["per_s"], 3),
        }


def _cpu_ms(run: dict[str, Any]) -> float:
    """CPU of the consumer's process per event: steadier than events/s on a shared machine."""
    return round(1000 * float(run["process_cpu_s"]) / int(run["events"]), 3)


def _database_cpu_ms(run: dict[str, Any]) -> float:
    """PostgreSQL's CPU per event while the consumer ran."""
    return round(1000 * float(run["database_cpu_s"]) / int(run["events"]), 3)


def print_table(results: dict[str, Any]) -> None:
    rows: list[tuple[str, object]] = [("load average (1/5/15 min)", results["load_average"])]
    if "rubric" in results:
        r = results["rubric"]
        rows += [
            ("rubric evaluations/s, compiled (target 50,000)", r["compiled_per_s"]),
            ("rubric evaluations/s, reference evaluator", r["reference_per_s"]),
            ("  speedup", r["speedup"]),
        ]
    if "consumer" in results:
        c = results["consumer"]
        rows += [
            ("scoring consumer events/s (to lead.scored)", c["scoring"]["per_s"]),
            ("raw consume+produce passthrough msgs/s", c["passthrough_per_s"]),
            ("  ratio scoring / passthrough (target 0.5)", c["ratio"]),
            ("platform floor events/s (echo consumer + outbox)", c["floor"]["per_s"]),
            ("  ratio floor / passthrough (target 0.40)", c["floor_ratio"]),
            ("  ratio scoring / floor (target 0.70)", c["scoring_over_floor"]),
            ("process CPU ms per event, scoring / floor", f"{_cpu_ms(c['scoring'])} / {_cpu_ms(c['floor'])}"),
            (
                "PostgreSQL CPU ms per event, scoring / floor",
                f"{_database_cpu_ms(c['scoring'])} / {_database_cpu_ms(c['floor'])}",
            ),
        ]
    print_rows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scoring", description=__doc__)
    parser.add_argument("--only", choices=["rubric", "consumer"])
    parser.add_argument("--seconds", type=float, default=3.0, help="rough CPU seconds per rubric timing")
    parser.add_argument(
        "--leads", type=int, default=6_000, help="leads pre-produced for the consumer runs (four events each)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    results: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    if args.only in (None, "rubric"):
        print("bench: rubric evaluation...", flush=True)
        results["rubric"] = bench_rubric(seconds=args.seconds)
    if args.only in (None, "consumer"):
        results["consumer"] = asyncio.run(bench_consumer(args.leads))
    path = write_results(args.out, "scoring", results)
    print_table(results)
    print(f"bench: wrote {path}")


if __name__ == "__main__":
    main()
