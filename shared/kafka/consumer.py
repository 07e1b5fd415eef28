"""The idempotent, at-least-once consumer wrapper every service uses.

For each message: decode it, then in ONE database transaction insert a `processed_event` row
and run the handler. The offset is committed only after that transaction commits, so a crash
replays the message and the `processed_event` row turns the replay into a no-op. A message
that cannot be decoded, or whose handler keeps failing, goes to the consumer group's
dead-letter topic with the error in its headers, and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Mapping
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import AnyEvent, UndecodableEvent, decode_event, utc_now
from shared.contracts.topics import dead_letter_topic
from shared.db import Database
from shared.kafka.batching import BatchingHandler, EventHandler, current_span, run_batch
from shared.kafka.errors import is_infrastructure_failure
from shared.kafka.producer import MAX_REQUEST_BYTES, create_producer
from shared.kafka.security import PLAINTEXT, KafkaSecurity
from shared.metrics import CONSUMER_LAG, CONSUMER_RETRIES, EVENT_HANDLE_SECONDS, EVENTS_CONSUMED

log = logging.getLogger(__name__)

Outcome = Literal["processed", "duplicate", "ignored", "dead_lettered"]

MAX_INFRA_BACKOFF_S = 10.0
DLQ_VALUE_LIMIT = MAX_REQUEST_BYTES // 2


def decode_record(record: ConsumerRecord[bytes, bytes]) -> AnyEvent:
    """Decode a record's value; a record without a key is refused too, since every event is
    keyed by its lead id and a keyless one escaped the per-lead ordering on the way in."""
    event = decode_event(record.value)
    if record.key is None:
        raise UndecodableEvent(f"message has no key; {event.event_type} events are keyed by lead id")
    return event


class _Stopping(Exception):
    """Raised inside a retry loop when shutdown begins; the message stays uncommitted."""


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: EventConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.owner.commit_pending(set(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("kafka.partitions_assigned", extra={"partitions": [str(tp) for tp in assigned]})


class EventConsumer:
    """Consumes `topics` as `group_id`, dispatching each event type to its handler."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        handlers: Mapping[str, EventHandler],
        db: Database,
        processed_table: Table,
        max_attempts: int = 5,
        retry_backoff_s: float = 0.2,
        session_timeout_ms: int = 10_000,
        security: KafkaSecurity = PLAINTEXT,
        partition_concurrency: int = 4,
        max_records: int = 1000,
    ) -> None:
        self.group_id = group_id
        self.partition_concurrency = max(1, partition_concurrency)
        self.max_records = max_records
        self.handlers = dict(handlers)
        self.db = db
        self.processed_table = processed_table
        self.max_attempts = max_attempts
        self.retry_backoff_s = retry_backoff_s
        self.topics = sorted(self.handlers)
        self.dead_letter_topic = dead_letter_topic(group_id)
        self._bootstrap = bootstrap_servers
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_records,
            fetch_max_wait_ms=100,
            max_partition_fetch_bytes=MAX_REQUEST_BYTES,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=max(100, session_timeout_ms // 5),
            **security.client_options(),
        )
        self._dlq = create_producer(bootstrap_servers, client_id=f"{group_id}-dlq", security=security)
        self._pending: dict[TopicPartition, int] = {}
        self._handled: dict[TopicPartition, int] = {}
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._dlq.start()
        self._consumer.subscribe(self.topics, listener=_CommitOnRevoke(self))
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.group_id}")
        log.info("kafka.consumer_started", extra={"group": self.group_id, "topics": self.topics})

    async def stop(self, timeout_s: float = 15.0) -> None:
        """Finish the message in hand, commit what is done, leave the group."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        # Each step is bounded: a broker that stops answering (or never finishes a LeaveGroup)
        # must not hold the process hostage. Uncommitted offsets only mean a replay, which the
        # processed_event table absorbs.
        for step, action in (
            ("commit", self.commit_pending(None)),
            ("leave_group", self._consumer.stop()),
            ("dead_letter_producer", self._dlq.stop()),
        ):
            try:
                await asyncio.wait_for(action, timeout_s)
            except Exception as exc:
                log.warning("kafka.consumer_stop_incomplete", extra={"step": step, "error": repr(exc)})
                if step == "leave_group":
                    await self._abandon_group()
        log.info("kafka.consumer_stopped", extra={"group": self.group_id})

    async def _abandon_group(self) -> None:
        """Stop heartbeating and drop the connections of a consumer whose LeaveGroup never finished.

        aiokafka's `stop()` waits for the coordination task before it stops the heartbeat task; cut
        off, it leaves that task running, so the broker keeps a member that heartbeats but never
        rejoins, and every later member of the group waits on it (seen on tansu). Closing the
        connections makes the broker drop the member at once.
        """
        coordinator = getattr(self._consumer, "_coordinator", None)
        heartbeat: asyncio.Task[None] | None = getattr(coordinator, "_heartbeat_task", None)
        if heartbeat is not None and not heartbeat.done():
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        client = getattr(self._consumer, "_client", None)
        if client is not None:
            try:
                await asyncio.wait_for(client.close(), 5)
            except Exception as exc:
                log.warning("kafka.consumer_abandon_incomplete", extra={"error": repr(exc)})

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def lag(self) -> int:
        """Messages on this member's partitions not yet handled (0 when caught up)."""
        assigned = self._consumer.assignment()
        if not assigned:
            return 0
        ends = await self._consumer.end_offsets(list(assigned))
        starts = await self._consumer.beginning_offsets(list(assigned))
        behind = 0
        for tp in assigned:
            done = self._handled.get(tp)
            if done is None:
                done = await self._consumer.committed(tp)
            behind += max(0, ends[tp] - (done if done is not None else starts[tp]))
        return behind

    @property
    def has_partitions(self) -> bool:
        """True once the group has assigned this member its partitions."""
        return bool(self._consumer.assignment())

    async def _run(self) -> None:
        while not self._stopping.is_set():
            batches = await self._consumer.getmany(timeout_ms=500, max_records=self.max_records)
            if len(batches) == 1 or self.partition_concurrency == 1:
                for tp, records in batches.items():
                    await self._process_partition(tp, records)
            else:
                # Partitions are independent (a lead's events on a topic all share one), so they
                # run side by side, each in order in its own transactions; the bound spares the pool.
                limit = asyncio.Semaphore(self.partition_concurrency)

                async def bounded(
                    tp: TopicPartition,
                    records: list[ConsumerRecord[bytes, bytes]],
                    limit: asyncio.Semaphore = limit,
                ) -> None:
                    async with limit:
                        await self._process_partition(tp, records)

                async with asyncio.TaskGroup() as group:
                    for tp, records in batches.items():
                        group.create_task(bounded(tp, records))
            await self.commit_pending(None)
            self._report_lag(batches)

    async def _process_partition(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        """Handle one partition's records in order, recording each handled offset for commit."""
        if self._stopping.is_set():
            return
        if len(records) > 1 and await self.handle_batch(records):
            self._pending[tp] = self._handled[tp] = records[-1].offset + 1
            return
        for record in records:
            if self._stopping.is_set():
                return
            try:
                await self.handle_record(record)
            except _Stopping:
                return
            self._pending[tp] = self._handled[tp] = record.offset + 1

    def _report_lag(self, batches: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        # The high-water mark comes with each fetch, so this costs no request to the broker.
        for tp in batches:
            highwater = self._consumer.highwater(tp)
            if highwater is not None and tp in self._handled:
                CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(
                    max(0, highwater - self._handled[tp])
                )

    async def handle_batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> bool:
        """Handle a partition's batch in ONE transaction (one commit, one fsync, instead of
        one per message). Anything unusual — an undecodable message, a handler error — rolls
        the batch back and returns False; the caller then takes the per-message path, which
        retries and dead-letters one message at a time. Nothing is dead-lettered from here."""
        events: list[tuple[ConsumerRecord[bytes, bytes], AnyEvent, EventHandler | None]] = []
        for record in records:
            try:
                event = decode_record(record)
            except UndecodableEvent:
                return False
            events.append((record, event, self.handlers.get(event.event_type)))
        started = time.perf_counter()
        try:
            async with self.db.transaction() as session:
                outcomes = await self._handle_in_transaction(session, events)
        except Exception as exc:
            log.info("kafka.batch_fallback", extra={"group": self.group_id, "error": repr(exc)})
            return False
        EVENT_HANDLE_SECONDS.labels(self.group_id).observe((time.perf_counter() - started) / len(records))
        for event_type, outcome in outcomes:
            self._count(event_type, outcome)
        return True

    async def _handle_in_transaction(
        self,
        session: AsyncSession,
        events: list[tuple[ConsumerRecord[bytes, bytes], AnyEvent, EventHandler | None]],
    ) -> list[tuple[str, Outcome]]:
        """One tracking insert for the batch, then its new events in order: runs of events
        whose handler takes batches go to it together, the others one by one."""
        fresh = await self._record_processed_many(session, [e for _, e, h in events if h is not None])
        outcomes: list[tuple[str, Outcome]] = []
        run: list[tuple[ConsumerRecord[bytes, bytes], AnyEvent]] = []
        run_handler: BatchingHandler | None = None
        for record, event, handler in events:
            if handler is None:
                outcomes.append((event.event_type, "ignored"))
                continue
            if event.event_id not in fresh:
                outcomes.append((event.event_type, "duplicate"))
                continue
            fresh.discard(event.event_id)  # the same event twice in one batch runs once
            outcomes.append((event.event_type, "processed"))
            if run and handler is not run_handler:
                assert run_handler is not None
                await run_batch(session, run_handler, run, self.group_id)
                run, run_handler = [], None
            if isinstance(handler, BatchingHandler):
                run.append((record, event))
                run_handler = handler
            else:
                with current_span(record, event, self.group_id):
                    await handler(session, event)
        if run:
            assert run_handler is not None
            await run_batch(session, run_handler, run, self.group_id)
        return outcomes

    async def commit_pending(self, only: set[TopicPartition] | None) -> None:
        offsets = {
            tp: OffsetAndMetadata(offset, "")
            for tp, offset in self._pending.items()
            if only is None or tp in only
        }
        if not offsets:
            return
        await self._consumer.commit(offsets)
        for tp in offsets:
            self._pending.pop(tp, None)

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
                    outcome = await self._apply(event, handler)
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
                if self._stopping.is_set():
                    raise _Stopping from exc
                CONSUMER_RETRIES.labels(self.group_id).inc()
                delay = min(self.retry_backoff_s * 2 ** (attempt - 1), MAX_INFRA_BACKOFF_S)
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

    async def _apply(self, event: AnyEvent, handler: EventHandler) -> Outcome:
        async with self.db.transaction() as session:
            if not await self._record_processed_many(session, [event]):
                return "duplicate"
            await handler(session, event)
        return "processed"

    async def _record_processed_many(self, session: AsyncSession, events: list[AnyEvent]) -> set[Any]:
        """Insert the tracking rows of a batch at once; returns the ids not processed before."""
        if not events:
            return set()
        now = utc_now()
        table = self.processed_table
        inserted = await session.scalars(
            insert(table).on_conflict_do_nothing().returning(table.c.event_id),
            [{"consumer": self.group_id, "event_id": e.event_id, "processed_at": now} for e in events],
        )
        return set(inserted)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], exc: BaseException, *, attempts: int
    ) -> None:
        value = record.value or b""
        headers = list(record.headers or ())
        if len(value) > DLQ_VALUE_LIMIT:
            headers.append(("x-original-size", str(len(value)).encode()))
            value = value[:DLQ_VALUE_LIMIT]
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        headers += [
            ("x-error-type", type(exc).__name__.encode()),
            ("x-error", detail[:2000].encode()),
            ("x-source-topic", record.topic.encode()),
            ("x-source-partition", str(record.partition).encode()),
            ("x-source-offset", str(record.offset).encode()),
            ("x-consumer-group", self.group_id.encode()),
            ("x-attempts", str(attempts).encode()),
            ("x-failed-at", utc_now().isoformat().encode()),
        ]
        # The offset moves on only once the dead letter is safely stored, so retry until it is.
        delay = self.retry_backoff_s
        while True:
            try:
                await self._dlq.send_and_wait(
                    self.dead_letter_topic, value=value, key=record.key, headers=headers
                )
                return
            except Exception as send_error:
                if self._stopping.is_set():
                    raise _Stopping from send_error
                log.warning("kafka.dead_letter_retry", extra={"error": repr(send_error)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_INFRA_BACKOFF_S)

    def _count(self, event_type: str, outcome: Outcome) -> Outcome:
        EVENTS_CONSUMED.labels(self.group_id, event_type, outcome).inc()
        return outcome
