"""The one way Baton builds a Kafka producer."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.conn import CloseReason

from shared.kafka.security import PLAINTEXT, KafkaSecurity
from shared.partitioner import KeyPartitioner

log = logging.getLogger(__name__)

# Headroom over Kafka's 1 MB default so a dead-lettered message keeps its original value.
MAX_REQUEST_BYTES = 8 * 1024 * 1024
# aiokafka's default record batch size. A producer has one request in flight per broker, carrying
# at most one batch per partition, so the batch size bounds what one round trip delivers.
DEFAULT_BATCH_BYTES = 16 * 1024
# The outbox relay's batches: one pass's rows for a partition in one batch, so a pass waits for one
# round trip instead of one per 16 KB of each partition (2,000 rows of 600 bytes were 13 round
# trips on six partitions, each a wait on the broker's ack while the relay's transaction is open).
# No larger: Kafka's default `message.max.bytes` (1 MB and 12 bytes) refuses a bigger batch.
RELAY_BATCH_BYTES = 1024 * 1024


def create_producer(
    bootstrap_servers: str,
    *,
    client_id: str,
    security: KafkaSecurity = PLAINTEXT,
    max_batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas; `max_batch_bytes` per partition and request.

    Idempotence stays off: not every Kafka-protocol broker offers InitProducerId (the embedded
    broker does not). Duplicates from retries are absorbed by idempotent consumers instead.
    """
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        max_batch_size=max_batch_bytes,
        partitioner=KeyPartitioner(),
        max_request_size=MAX_REQUEST_BYTES,
        request_timeout_ms=15000,
        **security.client_options(),
    )


# One attempt to reach the broker; past this a frozen or firewalled broker is retried later.
CONNECT_TIMEOUT_S = 10.0
MAX_RETRY_S = 10.0


async def try_start(producer: AIOKafkaProducer, *, timeout_s: float = CONNECT_TIMEOUT_S) -> bool:
    """Start `producer` if the broker answers; False (logged) if it does not. aiokafka fails a
    start before it changes any state, so the same producer can be started again later."""
    try:
        await asyncio.wait_for(producer.start(), timeout_s)
    except Exception as exc:
        log.warning("kafka.producer_connect_failed", extra={"error": repr(exc)})
        return False
    return True


async def start_when_reachable(
    producer: AIOKafkaProducer, *, connected: asyncio.Event, stopping: asyncio.Event, retry_s: float = 0.5
) -> None:
    """Retry `try_start` with a growing pause until it succeeds (then set `connected`) or until
    `stopping` is set: a service starts without a broker and connects once one appears."""
    attempts = 0
    while not stopping.is_set():
        attempts += 1
        if await try_start(producer):
            log.info("kafka.producer_connected", extra={"attempts": attempts})
            connected.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), min(retry_s * 2**attempts, MAX_RETRY_S))


async def heal_producer(producer: AIOKafkaProducer) -> bool:
    """Repair what a broker cut can leave broken in aiokafka's producer; True if anything was.

    A cut can close a connection's transport under aiokafka: uvloop then raises `RuntimeError:
    unable to perform operation on <TCPTransport closed=True>` on the next write, where aiokafka
    expects a connection error. The connection still counts as connected (its reader is not at
    EOF), so every later request goes to it and fails, and the error ends the producer's sender
    task for good. Seen in the chaos run: routing's relay then failed 424 passes in a row and 331
    assignments stayed unpublished. Closing such connections makes the client dial again, and a
    sender that ended is started again. The batches it held were failed with it, so their rows
    are still unsent and the relay sends them again."""
    closed = close_dead_connections(producer.client)
    return await revive_sender(producer) or closed > 0


def close_dead_connections(client: AIOKafkaClient) -> int:
    """Close the client's connections whose transport is already closed; returns how many."""
    closed = 0
    for conn in list(client._conns.values()):
        writer = getattr(conn, "_writer", None)
        if writer is not None and writer.transport.is_closing():
            conn.close(reason=CloseReason.CONNECTION_BROKEN)
            closed += 1
    if closed:
        log.warning("kafka.dead_connections_closed", extra={"closed": closed})
    return closed


async def revive_sender(producer: AIOKafkaProducer) -> bool:
    """Start the producer's sender again if it ended on an error (`heal_producer`); True if it
    had to."""
    sender = producer._sender
    task = sender.sender_task if sender is not None else None
    if task is None or not task.done() or task.cancelled():
        return False
    log.warning("kafka.producer_sender_restarted", extra={"error": repr(task.exception())})
    await sender.start()
    return True
