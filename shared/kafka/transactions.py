"""What the consumer does with fetched records inside the database: one transaction per batch,
or one per message with retries and the dead-letter topic.

A record's effects and its `processed_event` row commit together, so a replay (after a crash,
a rebalance, a cancelled pass) finds the row and changes nothing. The Kafka side (fetching,
offsets, group membership) stays in `shared.kafka.consumer`, which calls these.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Mapping

from aiokafka import AIOKafkaProducer, ConsumerRecord
from sqlalchemy import Table

from shared.contracts import AnyEvent, UndecodableEvent
from shared.db import Database
from shared.kafka.batching import EventHandler, Outcome, current_span, handle_in_order
from shared.kafka.dead_letter import MAX_BACKOFF_S, Stopping, send_to_dead_letter
from shared.kafka.errors import is_infrastructure_failure
from shared.kafka.lead_keys import LeadKeyReader
from shared.kafka.tracking import decode_record, record_processed
from shared.metrics import CONSUMER_RETRIES, EVENT_HANDLE_SECONDS, EVENTS_CONSUMED

log = logging.getLogger(__name__)

# Records decoded between two yields of the event loop.
DECODE_SLICE = 100


class EventTransactions:
    """Applies records to the database for the consumer group `group_id`."""

    def __init__(
        self,
        *,
        group_id: str,
        handlers: Mapping[str, EventHandler],
        db: Database,
        processed_table: Table,
        dead_letters: AIOKafkaProducer,
        dead_letter_topic: str,
        stopping: asyncio.Event,
        max_attempts: int,
        retry_backoff_s: float,
        lead_keys: LeadKeyReader | None = None,
    ) -> None:
        """`lead_keys` opens the events' sealed personal fields before the handlers see them."""
        self.group_id = group_id
        self.lead_keys = lead_keys
        self.handlers = dict(handlers)
        self.db = db
        self.processed_table = processed_table
        self.dead_letters = dead_letters
        self.dead_letter_topic = dead_letter_topic
        self.stopping = stopping
        self.max_attempts = max_attempts
        self.retry_backoff_s = retry_backoff_s

    async def handle_batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> bool:
        """Handle a partition's batch in ONE transaction (one commit, one fsync, instead of
        one per message). Anything unusual — an undecodable message, a handler error — rolls
        the batch back and returns False; the caller then takes the per-message path, which
        retries and dead-letters one message at a time. Nothing is dead-lettered from here."""
        events: list[tuple[ConsumerRecord[bytes, bytes], AnyEvent, EventHandler | None]] = []
        for index, record in enumerate(records):
            if index and not index % DECODE_SLICE:
                # Decoding a full fetch takes tens of milliseconds: other consumers, the relay
                # and the API of this process get the loop in between.
                await asyncio.sleep(0)
            try:
                event = decode_record(record)
            except UndecodableEvent:
                return False
            events.append((record, event, self.handlers.get(event.event_type)))
        try:
            events = [
                (r, e, h)
                for (r, _, h), e in zip(events, await self._open([e for _, e, _ in events]), strict=True)
            ]
        except Exception as exc:
            log.info("kafka.batch_fallback", extra={"group": self.group_id, "error": repr(exc)})
            return False
        started = time.perf_counter()
        try:
            async with self.db.transaction() as session:
                fresh = await record_processed(
                    session, self.processed_table, self.group_id, [e for _, e, h in events if h]
                )
                outcomes = await handle_in_order(session, events, fresh, self.group_id)
        except Exception as exc:
            log.info("kafka.batch_fallback", extra={"group": self.group_id, "error": repr(exc)})
            return False
        EVENT_HANDLE_SECONDS.labels(self.group_id).observe((time.perf_counter() - started) / len(records))
        # One increment per (type, outcome), not per event: a label lookup costs a dict and a lock.
        for (event_type, outcome), count in Counter(outcomes).items():
            EVENTS_CONSUMED.labels(self.group_id, event_type, outcome).inc(count)
        return True

    async def handle_record(self, record: ConsumerRecord[bytes, bytes]) -> Outcome:
        """Process one record to completion: handled, skipped as a duplicate, or dead-lettered."""
        started = time.perf_counter()
        try:
            event = decode_record(record)
        except UndecodableEvent as exc:
            await self._dead_letter(record, exc, attempts=1)
            return self._count(record.topic, "dead_lettered")
        handler = self.handlers.get(event.event_type)
        if handler is None:
            return self._count(event.event_type, "ignored")
        attempt = 0
        while True:
            attempt += 1
            try:
                with current_span(record, event, self.group_id):
                    [opened] = await self._open([event])
                    outcome = await self._apply(opened, handler)
                EVENT_HANDLE_SECONDS.labels(self.group_id).observe(time.perf_counter() - started)
                return self._count(event.event_type, outcome)
            except Exception as exc:
                infrastructure = is_infrastructure_failure(exc)
                if not infrastructure and attempt >= self.max_attempts:
                    log.error(
                        "kafka.message_dead_lettered",
                        exc_info=exc,
                        extra={"group": self.group_id, "event_id": str(event.event_id)},
                    )
                    await self._dead_letter(record, exc, attempts=attempt)
                    return self._count(event.event_type, "dead_lettered")
                if self.stopping.is_set():
                    raise Stopping from exc
                CONSUMER_RETRIES.labels(self.group_id).inc()
                delay = min(self.retry_backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S)
                log.warning(
                    "kafka.handler_retry",
                    extra={
                        "group": self.group_id,
                        "event_id": str(event.event_id),
                        "attempt": attempt,
                        "infrastructure": infrastructure,
                        "error": repr(exc),
                    },
                )
                await asyncio.sleep(delay)

    async def _open(self, events: list[AnyEvent]) -> list[AnyEvent]:
        return events if self.lead_keys is None else await self.lead_keys.open_events(events)

    async def _apply(self, event: AnyEvent, handler: EventHandler) -> Outcome:
        async with self.db.transaction() as session:
            if not await record_processed(session, self.processed_table, self.group_id, [event]):
                return "duplicate"
            await handler(session, event)
        return "processed"

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], exc: BaseException, *, attempts: int
    ) -> None:
        await send_to_dead_letter(
            self.dead_letters,
            self.dead_letter_topic,
            record,
            exc,
            group_id=self.group_id,
            attempts=attempts,
            backoff_s=self.retry_backoff_s,
            stopping=self.stopping,
        )

    def _count(self, event_type: str, outcome: Outcome) -> Outcome:
        EVENTS_CONSUMED.labels(self.group_id, event_type, outcome).inc()
        return outcome
