"""The broker as a test sees it: publishing events as their producers would, reading a topic, and
how far a consumer group is behind."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared.contracts import AnyEvent, UndecodableEvent, decode_event
from shared.kafka import create_producer


async def publish(bootstrap_servers: str, *events: AnyEvent) -> None:
    """Put events on their topics, keyed by lead, as their producers would."""
    producer = create_producer(bootstrap_servers, client_id="test-publisher")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(event.event_type, event.to_bytes(), key=event.key)
    finally:
        await producer.stop()


async def read_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout_s: float = 15.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read `topic` from the beginning with a throwaway group until `until(records)` holds."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=f"test-reader-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=2000,
        heartbeat_interval_ms=400,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(timeout_s):
            while not until(records):
                batch = await consumer.getmany(timeout_ms=200)
                for partition_records in batch.values():
                    records.extend(partition_records)
    except TimeoutError as exc:
        raise AssertionError(f"{topic}: condition not met after {timeout_s}s; saw {len(records)}") from exc
    finally:
        await consumer.stop()
    return records


async def committed_lag(bootstrap_servers: str, group: str) -> int:
    """Messages `group` has not yet committed past, on every topic it has committed on.

    Read from outside the group (no member joins it), so it suits a group another process
    runs. A topic counts once the group has committed on any of its partitions; its other
    partitions then count from offset 0, as the group would read them.
    """
    client = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False)
    await client.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in await client.topics()
            for p in client.partitions_for_topic(topic) or ()
        ]
        committed = {tp: await client.committed(tp) for tp in partitions}
        consumed_topics = {tp.topic for tp, offset in committed.items() if offset is not None}
        ours = [tp for tp in partitions if tp.topic in consumed_topics]
        if not ours:
            return 0
        ends = await client.end_offsets(ours)
        return sum(max(0, ends[tp] - (committed[tp] or 0)) for tp in ours)
    finally:
        await client.stop()


def event_ids(records: list[ConsumerRecord[bytes, bytes]]) -> set[str]:
    """The ids of the events among `records`; a topic shared by the whole session also holds the
    poison messages other tests wrote on purpose, which no reader should choke on."""
    ids: set[str] = set()
    for record in records:
        with contextlib.suppress(UndecodableEvent):
            ids.add(str(decode_event(record.value).event_id))
    return ids
