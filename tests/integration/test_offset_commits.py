"""Handled offsets go to the coordinator in the background, one commit at a time, in order
(`shared.kafka.offsets.PendingOffsets`). Real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.kafka import ensure_topics
from shared.kafka.offsets import PendingOffsets
from tests.conftest import Infra
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


async def test_offsets_commit_in_the_background_and_a_later_pass_stays_pending(migrated: Infra) -> None:
    topic = f"test-offsets-{uuid.uuid4().hex[:8]}"
    group = f"test-offsets-{uuid.uuid4().hex[:8]}"
    await ensure_topics(migrated.kafka_bootstrap_servers, [topic], partitions=1)
    client = AIOKafkaConsumer(
        topic, bootstrap_servers=migrated.kafka_bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await client.start()
    tp = TopicPartition(topic, 0)
    try:
        await wait_until(lambda: bool(client.assignment()), timeout=30)
        pending = PendingOffsets(group)
        pending.offsets[tp] = 5
        pending.commit_in_background(client)
        # The next pass handles more while the first commit is on its way: it is not lost, and
        # the older commit does not clear it.
        pending.offsets[tp] = 9
        pending.commit_in_background(client)  # one at a time: this one waits for the next pass
        await pending.settle()
        assert await client.committed(tp) in (5, 9)
        assert pending.offsets in ({tp: 9}, {})
        pending.commit_in_background(client)
        await pending.settle()
        assert (await client.committed(tp), pending.offsets) == (9, {})
        # Nothing pending, nothing sent.
        pending.commit_in_background(client)
        await asyncio.wait_for(pending.settle(), 5)
    finally:
        await client.stop()
