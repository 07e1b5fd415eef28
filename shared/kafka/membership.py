"""A consumer group member's client: how it is built, how far behind it is, how it is dropped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared.kafka.producer import MAX_REQUEST_BYTES
from shared.kafka.security import KafkaSecurity

log = logging.getLogger(__name__)


def group_client(
    bootstrap_servers: str,
    *,
    group_id: str,
    max_records: int,
    session_timeout_ms: int,
    security: KafkaSecurity,
    fetch_max_wait_ms: int = 40,
) -> AIOKafkaConsumer:
    """A group member that commits by hand (after the database commit) and starts a new group
    at the earliest offset, so nothing published before its first start is skipped."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        fetch_max_wait_ms=fetch_max_wait_ms,
        max_partition_fetch_bytes=MAX_REQUEST_BYTES,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(100, session_timeout_ms // 5),
        **security.client_options(),
    )


async def fetch_unless_stopped(
    consumer: AIOKafkaConsumer, stopping: asyncio.Event, *, max_records: int
) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
    """One fetch, given up (nothing fetched) once `stopping` is set: a fetch waits up to half a
    second for records, and a stopping consumer would wait that out. Nothing is lost, as what a
    stopped consumer fetched is neither handled nor committed."""
    fetch = asyncio.ensure_future(consumer.getmany(timeout_ms=500, max_records=max_records))
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not fetch.done():
            fetch.cancel()
        await asyncio.gather(fetch, stopped, return_exceptions=True)
    return {} if fetch.cancelled() else fetch.result()


async def messages_behind(consumer: AIOKafkaConsumer, handled: Mapping[TopicPartition, int]) -> int:
    """Messages on the member's partitions not yet handled: past `handled` where it has a
    position, else past the committed offset (or the log start)."""
    return await _behind(consumer, list(consumer.assignment()), handled)


async def group_behind(
    consumer: AIOKafkaConsumer, topics: list[str], handled: Mapping[TopicPartition, int]
) -> int:
    """Messages on every partition of `topics` the whole group has not handled: past `handled`
    on this member's partitions, past the group's committed offset on the others. A member
    that left or died leaves its partitions' uncommitted backlog for whoever gets them next,
    which this counts and `messages_behind` cannot."""
    partitions = [
        TopicPartition(topic, p) for topic in topics for p in consumer.partitions_for_topic(topic) or ()
    ]
    return await _behind(consumer, partitions, handled)


async def _behind(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], handled: Mapping[TopicPartition, int]
) -> int:
    if not partitions:
        return 0
    ends = await consumer.end_offsets(partitions)
    starts = await consumer.beginning_offsets(partitions)
    behind = 0
    for tp in partitions:
        done = handled.get(tp)
        if done is None:
            done = await consumer.committed(tp)
        behind += max(0, ends[tp] - (done if done is not None else starts[tp]))
    return behind


async def abandon_group(consumer: AIOKafkaConsumer) -> None:
    """Stop heartbeating and drop the connections of a consumer whose LeaveGroup never finished.

    aiokafka's `stop()` waits for the coordination task before it stops the heartbeat task; cut
    off, it leaves that task running, so the broker keeps a member that heartbeats but never
    rejoins, and every later member of the group waits on it (seen on tansu). Closing the
    connections makes the broker drop the member at once.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    heartbeat: asyncio.Task[None] | None = getattr(coordinator, "_heartbeat_task", None)
    if heartbeat is not None and not heartbeat.done():
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)
    client = getattr(consumer, "_client", None)
    if client is not None:
        try:
            await asyncio.wait_for(client.close(), 5)
        except Exception as exc:
            log.warning("kafka.consumer_abandon_incomplete", extra={"error": repr(exc)})
