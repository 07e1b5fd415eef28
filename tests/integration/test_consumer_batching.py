"""Batching handlers in the shared consumer: a partition's batch at once, with the guarantees
of the one-by-one path (order, exactly-once effect, dead letters)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import processed_event
from shared.contracts import Envelope
from shared.db import Database
from shared.kafka import BatchingHandler, EventConsumer, create_producer, ensure_topics
from tests.conftest import TEST_PARTITIONS, Infra
from tests.integration.test_consumer_runtime import ingested_event
from tests.support.events import read_topic
from tests.support.waiting import eventually


@pytest.fixture
async def producer(migrated: Infra) -> AsyncIterator[AIOKafkaProducer]:
    kafka = create_producer(migrated.kafka_bootstrap_servers, client_id="test-batching")
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


def record(event: Envelope, offset: int) -> ConsumerRecord[bytes, bytes]:
    value = event.to_bytes()
    return ConsumerRecord(
        topic="lead.ingested",
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=event.key,
        value=value,
        checksum=None,
        serialized_key_size=len(event.key),
        serialized_value_size=len(value),
        headers=[],
    )


class BatchRecorder:
    """Applies its own leads' events, one at a time or in batches; poison leads always fail."""

    def __init__(self, leads: set[uuid.UUID], *, poison: set[uuid.UUID] | None = None) -> None:
        self.leads = leads
        self.poison = poison or set()
        self.applied: list[uuid.UUID] = []
        self.batch_sizes: list[int] = []

    async def one(self, session: AsyncSession, event: Any) -> None:
        await self.many(session, [event])

    async def many(self, session: AsyncSession, events: Sequence[Any]) -> None:
        mine = [e for e in events if e.lead_id in self.leads]
        if any(e.lead_id in self.poison for e in mine):
            raise ValueError("cannot handle a poison lead")
        if mine:
            self.batch_sizes.append(len(mine))
            self.applied.extend(e.event_id for e in mine)


async def start(db: Database, infra: Infra, recorder: BatchRecorder, group: str) -> EventConsumer:
    await ensure_topics(infra.kafka_bootstrap_servers, [f"{group}.dlq"], partitions=TEST_PARTITIONS)
    consumer = EventConsumer(
        bootstrap_servers=infra.kafka_bootstrap_servers,
        group_id=group,
        handlers={"lead.ingested": BatchingHandler(recorder.one, recorder.many)},
        db=db,
        processed_table=processed_event,
        max_attempts=3,
        retry_backoff_s=0.01,
        session_timeout_ms=2000,
    )
    await consumer.start()
    return consumer


class TestBatchingHandler:
    async def test_a_batch_is_applied_at_once_in_partition_order(self, db: Database, migrated: Infra) -> None:
        lead = uuid.uuid4()
        events = [ingested_event(lead) for _ in range(4)]
        recorder = BatchRecorder({lead})
        consumer = EventConsumer(
            bootstrap_servers=migrated.kafka_bootstrap_servers,
            group_id=f"test-{uuid.uuid4()}",
            handlers={"lead.ingested": BatchingHandler(recorder.one, recorder.many)},
            db=db,
            processed_table=processed_event,
        )
        # The second event twice, as a producer retry delivers it.
        batch = [record(e, offset) for offset, e in enumerate([events[0], events[1], events[1], *events[2:]])]
        assert await consumer.handle_batch(batch)
        assert recorder.applied == [e.event_id for e in events]
        assert recorder.batch_sizes == [4]

        assert await consumer.handle_batch(batch)  # a replay of the whole batch
        assert recorder.applied == [e.event_id for e in events]

    async def test_a_poison_event_in_a_batch_is_dead_lettered_and_the_rest_applied(
        self, db: Database, migrated: Infra, producer: AIOKafkaProducer
    ) -> None:
        group, good, bad = f"test-{uuid.uuid4()}", uuid.uuid4(), uuid.uuid4()
        first, poison, last = ingested_event(good), ingested_event(bad), ingested_event(good)
        marker = str(uuid.uuid4()).encode()
        for event in (first, poison, last):
            await producer.send("lead.ingested", value=event.to_bytes(), key=marker)
        await producer.flush()
        recorder = BatchRecorder({good, bad}, poison={bad})
        consumer = await start(db, migrated, recorder, group)
        try:

            async def both_applied() -> None:
                assert len(recorder.applied) >= 2

            await eventually(both_applied, timeout_s=20)
        finally:
            await consumer.stop()
        assert recorder.applied == [first.event_id, last.event_id]
        dead = await read_topic(
            migrated.kafka_bootstrap_servers,
            f"{group}.dlq",
            until=lambda records: any(r.key == marker for r in records),
        )
        headers = [dict(r.headers) for r in dead if r.key == marker]
        assert [h["x-error-type"] for h in headers] == [b"ValueError"]
        assert headers[0]["x-attempts"] == b"3"
