"""The platform's floor: what an idempotent consumer that emits through the outbox costs by itself.

Every Baton consumer takes each event through the shared runtime: decode it, insert its
`processed_event` row and stage what it emits in the outbox in one transaction, commit, commit
the offset, and have the relay read the outbox rows back, publish them and mark them sent. This
bench runs exactly that with a handler that does nothing else (each event staged again, onto a
topic of its own), on the service's own tables, broker and database. Set against the raw
consume-and-produce passthrough it says how much of a consumer's distance to the passthrough is
the delivery guarantees themselves, and how much is the service's own work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from bench.harness import timed_consumer
from shared.contracts import Envelope
from shared.kafka import BatchingHandler, ensure_topics
from shared.outbox import outbox_columns, stage
from shared.runtime import ServiceRuntime, create_service_app
from shared.settings import ServiceSettings

FLOOR_TOPIC = "bench.floor"
FLOOR_GROUP = "bench-floor"


def echo_handler(outbox: Table, echo_topic: str = FLOOR_TOPIC) -> BatchingHandler:
    """Stages every event it is given, unchanged, for `echo_topic`."""

    async def many(session: AsyncSession, events: Sequence[Envelope]) -> None:
        columns = outbox_columns(events)
        columns["topic"] = [echo_topic] * len(events)
        await stage(session, outbox, columns)

    async def one(session: AsyncSession, event: Envelope) -> None:
        await many(session, [event])

    return BatchingHandler(one, many)


def floor_app(
    settings: ServiceSettings,
    *,
    outbox: Table,
    processed: Table,
    topics: Sequence[str],
    group: str = FLOOR_GROUP,
    echo_topic: str = FLOOR_TOPIC,
) -> FastAPI:
    """The service's runtime (consumer, relay) with the echo handler on `topics`, in its own group."""
    handler = echo_handler(outbox, echo_topic)
    runtime = ServiceRuntime(
        settings.model_copy(update={"consumer_group_id": group}),
        outbox=outbox,
        processed=processed,
        handlers=dict.fromkeys(topics, handler),
    )
    return create_service_app(runtime, title="bench floor", description="the platform's floor", routers=[])


async def run_floor(
    settings: ServiceSettings,
    *,
    outbox: Table,
    processed: Table,
    topics: Sequence[str],
    expected: int,
    partitions: int,
    group: str = FLOOR_GROUP,
) -> dict[str, Any]:
    """The floor consumer over the `expected` events already on `topics`, as consumer group
    `group` (echoing onto a topic of the same name), timed until every echo is on the broker
    (the service's settings come from the environment the caller set)."""
    echo_topic = FLOOR_TOPIC if group == FLOOR_GROUP else group
    await ensure_topics(settings.kafka_bootstrap_servers, [echo_topic, f"{group}.dlq"], partitions=partitions)
    app = floor_app(
        settings, outbox=outbox, processed=processed, topics=topics, group=group, echo_topic=echo_topic
    )
    return await timed_consumer(app, echo_topic, expected)
