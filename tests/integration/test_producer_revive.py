"""A producer whose sender task died is started again, and sends (`shared.kafka.producer.revive_sender`).

aiokafka's sender ends for good on an error it does not expect: a broker cut made uvloop raise
`RuntimeError` writing to a closed transport, and every later send of the relay failed.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError

from shared.kafka import create_producer, ensure_topics
from shared.kafka.dead_letter import send_to_dead_letter
from shared.kafka.producer import heal_producer, revive_sender
from tests.conftest import Infra

pytestmark = pytest.mark.integration


async def _die() -> None:
    raise KafkaError("Unexpected error during batch delivery")


async def test_a_dead_sender_is_started_again_and_sends(migrated: Infra) -> None:
    topic = f"test-revive-{uuid.uuid4().hex[:8]}"
    await ensure_topics(migrated.kafka_bootstrap_servers, [topic], partitions=1)
    producer = create_producer(migrated.kafka_bootstrap_servers, client_id="revive-test")
    await producer.start()
    try:
        assert not await heal_producer(producer), "a healthy producer is left alone"
        # What aiokafka's sender leaves when it ends on an unexpected error.
        sender = producer._sender
        sender.sender_task.cancel()
        await asyncio.gather(sender.sender_task, return_exceptions=True)
        sender._sender_task = dead = asyncio.ensure_future(_die())
        await asyncio.gather(dead, return_exceptions=True)

        assert await heal_producer(producer)
        delivered = await asyncio.wait_for(producer.send_and_wait(topic, b"after", key=b"k"), 10)
        assert delivered.offset == 0
        assert not await revive_sender(producer)
    finally:
        await producer.stop()


async def test_a_dead_letter_goes_out_through_a_producer_whose_sender_died(migrated: Infra) -> None:
    """A consumer's dead-letter producer idles between poison messages; a broker cut meanwhile can
    end its sender, and a send would then wait forever. It is repaired before each attempt."""
    topic = f"test-revive-dlq-{uuid.uuid4().hex[:8]}"
    await ensure_topics(migrated.kafka_bootstrap_servers, [topic], partitions=1)
    producer = create_producer(migrated.kafka_bootstrap_servers, client_id="revive-dlq-test")
    await producer.start()
    try:
        sender = producer._sender
        sender.sender_task.cancel()
        await asyncio.gather(sender.sender_task, return_exceptions=True)
        sender._sender_task = dead = asyncio.ensure_future(_die())
        await asyncio.gather(dead, return_exceptions=True)
        poison = ConsumerRecord(
            topic="lead.captured",
            partition=0,
            offset=7,
            timestamp=0,
            timestamp_type=0,
            key=b"k",
            value=b"{not json",
            checksum=None,
            serialized_key_size=1,
            serialized_value_size=9,
            headers=[],
        )
        await asyncio.wait_for(
            send_to_dead_letter(
                producer,
                topic,
                poison,
                ValueError("bad"),
                group_id="g",
                attempts=1,
                backoff_s=0.05,
                stopping=asyncio.Event(),
            ),
            20,
        )
        assert not await revive_sender(producer), "the dead-letter retry already revived it"
    finally:
        await producer.stop()
