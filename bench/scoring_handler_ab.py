"""`python -m bench.scoring_handler_ab --baseline DIR`: scoring's batch handler alone, two trees in turns.

`bench.scoring_ab` times the whole consumer (fetching, decoding, the relay, the broker), whose
CPU per event moves with the neighbours' load by more than a handler change saves. This bench
takes the broker and the runtime out: one embedded PostgreSQL, and each tree in turn runs
`batch.score_events` over the consumer bench's events (`bench.scoring.scoring_events`, batches
of 500 in order, the lead cache on, one transaction per batch) in a process of its own started
in that tree, on emptied tables. Only the handler's own process CPU per event is compared, round
by round. Prints each round and the median of the rounds' new/old ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from baton.embedded import EmbeddedPostgres
from baton.services import upgrade

CONTESTANTS = ("baseline", "scoring")


async def score_batches(database_url: str, *, leads: int, batch: int) -> dict[str, Any]:
    """This tree's `score_events` over the bench's events on emptied tables; the first batch
    (statements prepared, rubric compiled) is left out of the timing."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from bench.scoring import scoring_events
    from services.scoring import batch as scoring_batch
    from services.scoring.lead_cache import LeadHistories
    from services.scoring.rubric import load_rubric
    from shared.contracts import ActivityRecorded, LeadIngested

    engine = create_async_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            tables = await connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'scoring' "
                    "AND tablename <> 'alembic_version'"
                )
            )
            await connection.execute(text("TRUNCATE " + ", ".join(f"scoring.{row[0]}" for row in tables)))
        events = [e for e in scoring_events(leads) if isinstance(e, LeadIngested | ActivityRecorded)]
        rubric, cache = load_rubric(), LeadHistories(max_activities=1_000_000)
        batches = [events[i : i + batch] for i in range(0, len(events), batch)]
        cpu = wall = 0.0
        for number, events_ in enumerate(batches):
            started, cpu_started = time.perf_counter(), time.process_time()
            async with AsyncSession(engine) as session, session.begin():
                await scoring_batch.score_events(session, rubric=rubric, events=events_, cache=cache)
            if number:
                cpu += time.process_time() - cpu_started
                wall += time.perf_counter() - started
        timed = len(events) - len(batches[0])
        return {"events": timed, "cpu_ms_per_event": round(1000 * cpu / timed, 4), "seconds": round(wall, 2)}
    finally:
        await engine.dispose()


def run_tree(tree: Path, database_url: str, *, leads: int, batch: int) -> dict[str, Any]:
    """One `score_batches` run of `tree`'s code, in a process started there."""
    command = [sys.executable, "-m", "bench.scoring_handler_ab", "--run", database_url]
    found = subprocess.run(
        [*command, "--leads", str(leads), "--batch", str(batch)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(found.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scoring_handler_ab", description=__doc__)
    parser.add_argument("--baseline", type=Path, help="the tree to compare against")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--leads", type=int, default=3_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--run", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(asyncio.run(score_batches(args.run, leads=args.leads, batch=args.batch))))
        return
    if args.baseline is None:
        parser.error("--baseline is required")
    trees = {"baseline": args.baseline.resolve(), "scoring": Path.cwd()}
    root = Path(tempfile.mkdtemp(prefix="baton-scoring-handler-ab-"))
    postgres = EmbeddedPostgres(root / "pgdata")
    database_url = postgres.start()
    try:
        upgrade("scoring", database_url)
        ratios: list[float] = []
        for number in range(args.rounds):
            # Each round in another order, so neither tree always follows the other.
            order = CONTESTANTS if number % 2 == 0 else tuple(reversed(CONTESTANTS))
            found = {
                name: run_tree(trees[name], database_url, leads=args.leads, batch=args.batch)
                for name in order
            }
            ratios.append(found["scoring"]["cpu_ms_per_event"] / found["baseline"]["cpu_ms_per_event"])
            print(f"round {number + 1}: {json.dumps(found)} new/old {ratios[-1]:.3f}", flush=True)
        print(
            f"handler CPU per event, new/old: median {statistics.median(ratios):.3f}, load {os.getloadavg()}"
        )
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
