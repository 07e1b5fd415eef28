"""The dead-letter topic of a consumer group: a message that cannot be handled goes there with
the error in its headers, so the consumer can move on without losing it."""

from __future__ import annotations

import asyncio
import logging
import traceback

from aiokafka import AIOKafkaProducer, ConsumerRecord

from shared.contracts import utc_now
from shared.kafka.producer import MAX_REQUEST_BYTES, heal_producer

log = logging.getLogger(__name__)

DLQ_VALUE_LIMIT = MAX_REQUEST_BYTES // 2
MAX_BACKOFF_S = 10.0
# Twice the producer's request timeout: a send not acknowledged by then is not coming back.
SEND_TIMEOUT_S = 30.0


class Stopping(Exception):
    """Raised inside a retry loop when shutdown begins; the message stays uncommitted."""


def dead_letter_headers(
    record: ConsumerRecord[bytes, bytes], exc: BaseException, *, group_id: str, attempts: int
) -> list[tuple[str, bytes]]:
    """The record's own headers plus where it came from and why it failed."""
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    headers = list(record.headers or ())
    if len(record.value or b"") > DLQ_VALUE_LIMIT:
        headers.append(("x-original-size", str(len(record.value or b"")).encode()))
    return [
        *headers,
        ("x-error-type", type(exc).__name__.encode()),
        ("x-error", detail[:2000].encode()),
        ("x-source-topic", record.topic.encode()),
        ("x-source-partition", str(record.partition).encode()),
        ("x-source-offset", str(record.offset).encode()),
        ("x-consumer-group", group_id.encode()),
        ("x-attempts", str(attempts).encode()),
        ("x-failed-at", utc_now().isoformat().encode()),
    ]


async def send_to_dead_letter(
    producer: AIOKafkaProducer,
    topic: str,
    record: ConsumerRecord[bytes, bytes],
    exc: BaseException,
    *,
    group_id: str,
    attempts: int,
    backoff_s: float,
    stopping: asyncio.Event,
) -> None:
    """Store `record` on `topic`, retrying until the broker takes it: the source offset moves on
    only once the dead letter is safely stored. Raises `Stopping` if shutdown begins first."""
    headers = dead_letter_headers(record, exc, group_id=group_id, attempts=attempts)
    value = (record.value or b"")[:DLQ_VALUE_LIMIT]
    delay = backoff_s
    while True:
        try:
            # The producer sits idle between poison messages, and a broker cut in the meantime can
            # have left it broken for good (a dead connection kept, its sender task ended: a send
            # would then wait forever). Repaired before each attempt, as the relay's is after a
            # failed pass; and an attempt that still hangs counts as failed.
            await heal_producer(producer)
            send = producer.send_and_wait(topic, value=value, key=record.key, headers=headers)
            await asyncio.wait_for(send, SEND_TIMEOUT_S)
            return
        except Exception as send_error:
            if stopping.is_set():
                raise Stopping from send_error
            log.warning("kafka.dead_letter_retry", extra={"error": repr(send_error)})
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)
