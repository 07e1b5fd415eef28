"""What the consumer benches share: the service's own infrastructure, and events on the broker."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from baton.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from baton.launcher import all_topics
from baton.services import upgrade
from bench.baselines import broker_passthrough
from shared.contracts import Envelope
from shared.contracts.topics import topic_for
from shared.kafka import create_producer, ensure_topics


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


def service_environment(database_url: str, bootstrap: str, **more: str) -> None:
    """Point a service created in this process at the bench's infrastructure (its settings read
    the environment), quiet unless `BATON_BENCH_LOG_LEVEL` says otherwise."""
    os.environ.update(
        BATON_DATABASE_URL=database_url,
        BATON_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        BATON_JWT_SECRET="bench-secret-" + "x" * 40,
        BATON_CONSUMER_SESSION_TIMEOUT_MS="6000",
        BATON_LOG_LEVEL=os.environ.get("BATON_BENCH_LOG_LEVEL", "WARNING"),
        **more,
    )


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


async def wait_for_messages(bootstrap: str, topic: str, expected: int, *, timeout_s: float) -> int:
    """Count the messages on `topic` (every partition, from the start) until `expected` arrive."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen, deadline = 0, time.monotonic() + timeout_s
        while seen < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=5_000)
            seen += sum(len(records) for records in batches.values())
        return seen
    finally:
        await consumer.stop()


async def timed_consumer(app: FastAPI, topic: str, expected: int) -> dict[str, Any]:
    """Run `app`'s lifespan (consumer, relay, workers) in this process, timed from its group's
    assignment (as the passthrough is: its start() waits for it) until `expected` messages are
    on `topic`."""
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        while not runtime.consumer.has_partitions:
            await asyncio.sleep(0.005)
        started, cpu_started = time.perf_counter(), time.process_time()
        seen = await wait_for_messages(
            runtime.settings.kafka_bootstrap_servers, topic, expected, timeout_s=600
        )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "events": expected,
        "on_broker": seen,
        "seconds": round(elapsed, 2),
        "per_s": round(seen / elapsed),
        # This process's CPU (consumer, relay, watcher): close to `seconds` means Python-bound.
        "process_cpu_s": round(cpu, 2),
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


def print_rows(rows: Sequence[tuple[str, object]]) -> None:
    """A bench's table: each figure's name, padded to the longest, then its value."""
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
