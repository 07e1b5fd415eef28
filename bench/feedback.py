"""Feedback's consumer: how fast the funnel facts keep up with the rest of the pipeline.

Every lead's journey (ingested, an activity, two scores, qualified, assigned, touched) is
pre-produced across partitions on each event's own topic; then feedback's real consumer (the
service's lifespan, in this process) runs until every event is recorded. The same number of
messages goes through a raw consume-and-produce passthrough on the same broker, for scale.
Feedback has no target of its own: it must simply not be the pipeline's slowest stage.

    python -m bench.feedback [--leads N]

Prints a table and writes bench/results/feedback-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg

from bench.harness import (
    next_to_passthrough,
    print_rows,
    produce,
    service_environment,
    service_infrastructure,
    write_results,
)
from bench.scoring_leads import NOW, lead_fields, lead_ids
from shared.contracts import (
    ActivityRecorded,
    ActivityRecordedPayload,
    Envelope,
    LeadAssigned,
    LeadAssignedPayload,
    LeadIngested,
    LeadIngestedPayload,
    LeadQualified,
    LeadQualifiedPayload,
    LeadScored,
    LeadScoredPayload,
    LeadSnapshot,
    LeadTouched,
    LeadTouchedPayload,
)

PARTITIONS = 6


def journey(lead_id: uuid.UUID, rng: random.Random, i: int) -> list[Envelope]:
    """One lead's events as the other services emit them, in time order."""
    fields = lead_fields(rng, i)
    at = NOW - timedelta(days=rng.uniform(1, 30))
    rep, assignment = uuid.uuid4(), uuid.uuid4()
    utm = {"source": "google", "campaign": f"c{i % 7}"}
    events: list[Envelope] = [
        LeadIngested.new(
            lead_id=lead_id,
            payload=LeadIngestedPayload(**{**fields, "utm": utm}, form_id="demo", submitted_at=at),
            producer="ingest",
            occurred_at=at,
        ),
        ActivityRecorded.new(
            lead_id=lead_id,
            payload=ActivityRecordedPayload(
                activity_type="page_view",
                occurred_at=at + timedelta(minutes=1),
                email=fields["email"],
                source="web",
                properties={"utm.source": "linkedin", "utm.campaign": "retarget"},
            ),
            producer="ingest",
            occurred_at=at + timedelta(minutes=1),
        ),
    ]
    for step, score in enumerate((35.0, 72.0)):
        scored = LeadScoredPayload(
            rubric_version="v1",
            score=score,
            fit_score=score / 2,
            engagement_score=score / 2,
            grade="B",
            is_mql=score > 50,
        )
        when = at + timedelta(minutes=2 + step)
        events.append(LeadScored.new(lead_id=lead_id, payload=scored, producer="scoring", occurred_at=when))
    qualified_at = at + timedelta(minutes=3)
    events.append(
        LeadQualified.new(
            lead_id=lead_id,
            payload=LeadQualifiedPayload(
                rubric_version="v1",
                score=72,
                grade="B",
                reason="threshold",
                sla_tier="B",
                sla_minutes=60,
                qualified_at=qualified_at,
                lead=LeadSnapshot(email=fields["email"]),
            ),
            producer="scoring",
            occurred_at=qualified_at,
        )
    )
    assigned_at = qualified_at + timedelta(seconds=1)
    events.append(
        LeadAssigned.new(
            lead_id=lead_id,
            payload=LeadAssignedPayload(
                assignment_id=assignment,
                rep_id=rep,
                rep_name="Rep",
                strategy="round_robin",
                sla_tier="B",
                sla_due_at=assigned_at + timedelta(hours=1),
                assigned_at=assigned_at,
                qualified_at=qualified_at,
            ),
            producer="routing",
            occurred_at=assigned_at,
        )
    )
    touched_at = assigned_at + timedelta(minutes=rng.uniform(1, 90))
    events.append(
        LeadTouched.new(
            lead_id=lead_id,
            payload=LeadTouchedPayload(
                assignment_id=assignment, rep_id=rep, channel="call", touched_at=touched_at
            ),
            producer="routing",
            occurred_at=touched_at,
        )
    )
    return events


async def run_feedback(database_url: str, bootstrap: str, host: str, expected: int) -> dict[str, Any]:
    """Feedback's lifespan in this process, timed from its group assignment until every event
    has its processed_event row."""
    service_environment(database_url, bootstrap)
    from services.feedback.main import create_app

    app = create_app()
    connection = await asyncpg.connect(host=host, user="postgres", database="postgres")
    try:
        async with app.router.lifespan_context(app):
            consumer = app.state.runtime.consumer
            while not consumer.has_partitions:
                await asyncio.sleep(0.005)
            started, cpu_started = time.perf_counter(), time.process_time()
            done, deadline = 0, started + 600
            while done < expected and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
                done = await connection.fetchval("SELECT count(*) FROM feedback.processed_event")
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        await connection.close()
    return {
        "events": expected,
        "recorded": done,
        "seconds": round(elapsed, 2),
        "per_s": round(done / elapsed),
        "process_cpu_ms_per_event": round(1000 * cpu / max(done, 1), 3),
    }


async def bench_consumer(leads: int) -> dict[str, Any]:
    async with service_infrastructure("feedback", partitions=PARTITIONS) as (database_url, bootstrap):
        rng = random.Random(5)
        events = [e for i, lead in enumerate(lead_ids(leads)) for e in journey(lead, rng, i)]
        await produce(bootstrap, events, client_id="bench-feedback")
        host = parse_qs(urlparse(database_url).query)["host"][0]
        run = partial(run_feedback, database_url, bootstrap, host, len(events))
        figures = await next_to_passthrough(bootstrap, events, "feedback", run)
        return {"leads": leads, "partitions": PARTITIONS, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.feedback", description=__doc__)
    parser.add_argument("--leads", type=int, default=2_000, help="lead journeys pre-produced")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    results: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    results["consumer"] = asyncio.run(bench_consumer(args.leads))
    path = write_results(args.out, "feedback", results)
    c = results["consumer"]
    rows = [
        ("load average (1/5/15 min)", results["load_average"]),
        ("feedback consumer events/s (recorded)", c["feedback"]["per_s"]),
        ("  process CPU ms per event", c["feedback"]["process_cpu_ms_per_event"]),
        ("raw consume+produce passthrough msgs/s", c["passthrough_per_s"]),
        ("  ratio feedback / passthrough", c["ratio"]),
    ]
    print_rows(rows)
    print(f"bench: wrote {path}")


if __name__ == "__main__":
    main()
