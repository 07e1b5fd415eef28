"""The one way Baton builds a Kafka producer."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaProducer

from shared.kafka.security import PLAINTEXT, KafkaSecurity
from shared.partitioner import KeyPartitioner

log = logging.getLogger(__name__)

# Headroom over Kafka's 1 MB default so a dead-lettered message keeps its original value.
MAX_REQUEST_BYTES = 8 * 1024 * 1024


def create_producer(
    bootstrap_servers: str, *, client_id: str, security: KafkaSecurity = PLAINTEXT
) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas.

    Idempotence stays off: not every Kafka-protocol broker offers InitProducerId (the embedded
    broker does not). Duplicates from retries are absorbed by idempotent consumers instead.
    """
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
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


async def revive_sender(producer: AIOKafkaProducer) -> bool:
    """Start the producer's sender again if it ended on an error; True if it had to.

    aiokafka's sender task ends for good on an error it does not expect, and every later send
    then fails. A broker cut does that: uvloop raises `RuntimeError: unable to perform operation
    on <TCPTransport closed=True>` where aiokafka expects a connection error (seen in the chaos
    run, after which routing's relay failed 421 passes in a row and 332 assignments stayed
    unpublished). The batches it held were failed with it, so their rows are still unsent and the
    relay sends them again."""
    sender = producer._sender
    task = sender.sender_task if sender is not None else None
    if task is None or not task.done() or task.cancelled():
        return False
    log.warning("kafka.producer_sender_restarted", extra={"error": repr(task.exception())})
    await sender.start()
    return True
