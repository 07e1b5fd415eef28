"""`python -m bench.scoring_history`: scoring's batch path for leads with long histories, with and
without the consumer's lead cache (`services/scoring/lead_cache.py`), in one run.

`bench.scoring`'s consumer run gives each lead at most four events, so a lead's history is never
long enough for re-reading it to matter. Here two groups of leads get the same long history
(a submission and `--history` page views each); then rounds of one more page view per lead are
scored in consumer-sized batches, the cached group and the uncached one taking turns, on one
embedded PostgreSQL. Reported: process CPU per event of `batch.score_events`, each group's
first round left out (it fills the cache). Writes bench/results/scoring_history-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from baton.embedded import EmbeddedPostgres
from baton.services import upgrade
from bench.harness import write_results
from bench.scoring_leads import NOW, lead_fields
from services.scoring import batch
from services.scoring.lead_cache import LeadHistories
from services.scoring.rubric import load_rubric
from shared.contracts import ActivityRecorded, ActivityRecordedPayload, LeadIngested, LeadIngestedPayload
from shared.db import Database

Lead = tuple[uuid.UUID, dict[str, Any]]


def page_view(lead: Lead, minutes: int) -> ActivityRecorded:
    at = NOW - timedelta(days=30, minutes=-minutes)
    payload = ActivityRecordedPayload(
        activity_type="page_view",
        occurred_at=at,
        email=lead[1]["email"],
        source="bench",
        properties={"page_path": "/pricing"},
    )
    return ActivityRecorded.new(lead_id=lead[0], payload=payload, producer="bench", occurred_at=at)


def history(lead: Lead, views: int) -> list[LeadIngested | ActivityRecorded]:
    at = NOW - timedelta(days=30)
    submitted = LeadIngestedPayload(**lead[1], form_id="newsletter", submitted_at=at)
    ingested = LeadIngested.new(lead_id=lead[0], payload=submitted, producer="bench", occurred_at=at)
    return [ingested, *(page_view(lead, minute) for minute in range(1, views + 1))]


async def measure(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    db = Database(database_url)
    rubric = load_rubric()
    rng = random.Random(5)
    groups = {
        name: [(uuid.uuid4(), lead_fields(rng, i)) for i in range(args.leads)] for name in ("off", "on")
    }
    caches = {"off": None, "on": LeadHistories(max_activities=10 * args.leads * (args.history + args.rounds))}
    try:
        for leads in groups.values():
            events = [event for lead in leads for event in history(lead, args.history)]
            for start in range(0, len(events), 2_000):
                async with db.transaction() as session:
                    await batch.score_events(session, rubric=rubric, events=events[start : start + 2_000])
        cpu_s, events_scored = {"off": 0.0, "on": 0.0}, {"off": 0, "on": 0}
        for round_ in range(args.rounds + 1):
            for name in ("off", "on") if round_ % 2 == 0 else ("on", "off"):
                views = [page_view(lead, args.history + 1 + round_) for lead in groups[name]]
                for start in range(0, len(views), args.batch):
                    began = time.process_time()
                    async with db.transaction() as session:
                        await batch.score_events(
                            session,
                            rubric=rubric,
                            events=views[start : start + args.batch],
                            cache=caches[name],
                        )
                    if round_ > 0:
                        cpu_s[name] += time.process_time() - began
                        events_scored[name] += len(views[start : start + args.batch])
    finally:
        await db.dispose()
    per_event = {name: round(1000 * cpu_s[name] / events_scored[name], 3) for name in cpu_s}
    return {
        "leads_per_group": args.leads,
        "history_per_lead": args.history + 1,
        "batch": args.batch,
        "rounds": args.rounds,
        "cpu_ms_per_event": per_event,
        "cached_over_uncached": round(per_event["on"] / per_event["off"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scoring_history", description=__doc__)
    parser.add_argument("--leads", type=int, default=200, help="leads in each group")
    parser.add_argument("--history", type=int, default=60, help="page views each lead has already")
    parser.add_argument("--rounds", type=int, default=6, help="measured rounds of one page view per lead")
    parser.add_argument("--batch", type=int, default=200, help="events per consumer batch")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="baton-bench-scoring-history-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        try:
            database_url = postgres.start()
            upgrade("scoring", database_url)
            results = asyncio.run(measure(database_url, args))
        finally:
            postgres.stop()
    path = write_results(args.out, "scoring_history", results)
    for name, value in results.items():
        print(f"{name:<22} {value}")
    print(f"bench.scoring_history: wrote {path}")


if __name__ == "__main__":
    main()
