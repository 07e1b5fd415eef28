"""What the consumer benches share: the service's own infrastructure, and events on the broker."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.baselines import broker_passthrough
from shared.contracts import Envelope
from shared.contracts.topics import topic_for
from shared.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from shared.kafka import create_producer, ensure_topics
from shared.launcher import all_topics
from shared.migrations import upgrade


@asynccontextmanager
async def service_infrastructure(service: str, *, partitions: int) -> AsyncIterator[tuple[str, str]]:
    """An embedded PostgreSQL migrated for `service` and an embedded broker holding every topic;
    yields (database URL, bootstrap servers) and removes both afterwards."""
    root = Path(tempfile.mkdtemp(prefix=f"baton-bench-{service}-"))
    postgres = EmbeddedPostgres(root / "pgdata")
    broker = EmbeddedBroker(free_port(), log_path=root / "tansu.log")
    try:
        database_url = postgres.start()
        bootstrap = broker.start()
        await asyncio.to_thread(upgrade, service, database_url)
        await ensure_topics(bootstrap, all_topics(), partitions=partitions)
        yield database_url, bootstrap
    finally:
        broker.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


async def produce(bootstrap: str, events: Sequence[Envelope], *, client_id: str) -> None:
    """Put `events` on their topics, keyed by lead id, and wait for every acknowledgement."""
    producer = create_producer(bootstrap, client_id=client_id)
    await producer.start()
    try:
        sends = [
            await producer.send(topic_for(e.event_type), value=e.to_bytes(), key=str(e.lead_id).encode())
            for e in events
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def next_to_passthrough(
    bootstrap: str, events: Sequence[Envelope], name: str, run: Callable[[], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """`run` (a service's consumer over `events`, already on the broker), then the same number of
    messages of the same mean size through a raw consume-and-produce passthrough on the broker:
    `run`'s figures with `passthrough_per_s` and `ratio` (its `per_s` over the passthrough's)."""
    mean_size = sum(len(e.to_bytes()) for e in events) // len(events)
    print(f"bench: {name} consumer, {len(events)} events...", flush=True)
    measured = await run()
    print(f"bench: raw passthrough, {len(events)} messages...", flush=True)
    raw = await broker_passthrough(bootstrap, messages=len(events), size=mean_size)
    return {
        name: measured,
        "passthrough_per_s": raw["passthrough_per_s"],
        "ratio": round(measured["per_s"] / raw["passthrough_per_s"], 3),
    }


def write_results(out: Path, section: str, results: dict[str, Any]) -> Path:
    """Stamp `results` with the machine's load and the time, and write them as
    `<out>/<section>-<UTC time>.json`."""
    results["load_average"] = [round(x, 2) for x in os.getloadavg()]
    results["finished_at"] = datetime.now(UTC).isoformat()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{section}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2))
    return path
