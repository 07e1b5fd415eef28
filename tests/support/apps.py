"""Running a service app in-process: its lifespan (database, relay, consumer) and a client."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from unittest.mock import patch

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from fastapi import FastAPI

import shared.consumer_groups
from shared.consumer_groups import group_handlers
from shared.db import Database
from shared.kafka.consumer import EventConsumer
from shared.kafka.lead_keys import LeadKeyReader
from tests.conftest import truncate_all
from tests.support.waiting import eventually


@asynccontextmanager
async def running_app(
    app: FastAPI, *, consume: bool = True, group: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running (database, relay, consumer) and an in-process client.

    `consume=False` leaves the consumer out (a test of routes or workers). A consuming app
    consumes as a consumer group of the test's own, which starts at the current end of its
    topics: the service's real group lives as long as the shared broker, and one member a test
    left behind there stalled every later test's rebalance. Given a `group` (pass the same one to
    replicas), the app joins it as the service does; without one, the group is new and has this
    app alone, so the app takes every partition itself (`AssignedConsumer`) instead of joining.
    """
    runtime = app.state.runtime
    runtime.consume = consume
    sole_member = group is None
    if consume and runtime.handlers:
        group = group or f"test-{runtime.settings.service_name}-{uuid.uuid4().hex[:12]}"
        runtime.settings = runtime.settings.model_copy(update={"consumer_group_id": group})
        for lane_group, (_, handlers) in group_handlers(runtime.settings, runtime.handlers).items():
            await start_group_at_end(runtime.settings.kafka_bootstrap_servers, lane_group, list(handlers))
    async with AsyncExitStack() as stack:
        # Only while the lifespan starts: a replica started inside this block joins its group.
        with patch.object(
            shared.consumer_groups, "EventConsumer", AssignedConsumer if sole_member else EventConsumer
        ):
            await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://testserver")
        )
        yield client


def _keys_loaded(reader: LeadKeyReader) -> Callable[[], None]:
    def check() -> None:
        assert reader.loaded, "the lead keys are not read yet"

    return check


class AssignedConsumer(EventConsumer):
    """The service's consumer, taking every partition of its topics at start instead of joining
    its group: the embedded broker holds each join for at least a second, paid by every test
    that starts a consuming app. Offsets are still the group's (fetched, committed), so the
    consumer starts where `start_group_at_end` put the group and commits as the service does;
    joining, rebalancing and replicas are tested where a group is given (`running_app(group=)`,
    tests/integration/test_consumer_runtime.py)."""

    async def _subscribe(self) -> None:
        await self._consumer.start()
        await self._consumer.topics()  # metadata of every topic, so each one's partitions are known
        self._consumer.assign(
            [
                TopicPartition(topic, p)
                for topic in self.topics
                for p in self._consumer.partitions_for_topic(topic) or ()
            ]
        )


@asynccontextmanager
async def running_service(app: FastAPI, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """`running_app`, once its consumer has worked through the session's backlog and every
    table was emptied, so a test sees only the events it publishes itself."""
    async with running_app(app) as client:
        runtime = app.state.runtime
        if runtime.consumer is not None:
            await caught_up(app)
            await truncate_all(db)
        if runtime.lead_keys is not None:
            # Until the keys are read, a route that seals (a rep's note) answers 503 and asks
            # to be tried again: a test's first request would race the reader.
            await eventually(_keys_loaded(runtime.lead_keys), timeout_s=20)
        yield client


async def start_group_at_end(bootstrap_servers: str, group: str, topics: list[str]) -> None:
    """Commit `group`'s offsets at the current end of `topics`, unless it has offsets already
    (a replica joining a group another one started)."""
    client = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False)
    await client.start()
    try:
        await client.topics()  # metadata of every topic, so none is left without a start offset
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in client.partitions_for_topic(topic) or ()
        ]
        missing = {topic for topic in topics if not client.partitions_for_topic(topic)}
        assert not missing, f"no partitions known for {sorted(missing)}"
        if any([await client.committed(tp) is not None for tp in partitions]):
            return
        client.assign(partitions)
        ends = await asyncio.wait_for(true_ends(client, partitions), 10)
        await client.commit({tp: OffsetAndMetadata(end, "") for tp, end in ends.items()})
    finally:
        await client.stop()


async def true_ends(client: AIOKafkaConsumer, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """Each partition's end: one past its last record. The embedded broker (tansu 0.6) reports
    one past the first record of a partition's last batch instead, so a group started at the
    reported end consumed the rest of that batch: an earlier test's events (PgBouncer mode's
    form posts) reached a later test that counts leads. Read from there to the real end."""
    ends = await client.end_offsets(partitions)
    unread = {tp for tp, end in ends.items() if end > 0}
    for tp in unread:
        client.seek(tp, ends[tp] - 1)
    while unread:
        for tp, records in (await client.getmany(*unread, timeout_ms=500)).items():
            ends[tp] = max(ends[tp], records[-1].offset + 1)
            unread.discard(tp)
    return ends


async def caught_up(app: FastAPI, *, timeout_s: float = 60.0) -> None:
    """Wait until the app's consumers hold partitions and have handled everything on them.

    The broker lives for the whole test session, so a service's consumer group first works
    through what earlier tests published; a test that counts exactly waits for that, then
    truncates, then publishes its own events.
    """
    consumers = app.state.runtime.consumers

    async def no_lag() -> None:
        for consumer in consumers:
            assert consumer.has_partitions, f"{consumer.group_id} has not joined its group yet"
            # lag() waits on the broker; a stalled broker must fail the test, not hang it.
            assert await asyncio.wait_for(consumer.lag(), 5) == 0
            # A member of an earlier test that left (or died) may still hold, or have given up
            # without committing, partitions with a backlog this member gets at the next rebalance.
            assert await asyncio.wait_for(consumer.group_lag(), 5) == 0

    await eventually(no_lag, timeout_s=timeout_s)


@asynccontextmanager
async def offline_client(service: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `service`'s app through ASGI, its lifespan not run: with `offline_settings`,
    for the answers that need neither the database nor the broker."""
    app = importlib.import_module(f"services.{service}.main").create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
