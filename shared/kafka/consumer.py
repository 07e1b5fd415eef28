"""The idempotent, at-least-once consumer wrapper every service uses.

For each message: decode it, then in ONE database transaction insert a `processed_event` row
and run the handler. The offset is committed only after that transaction commits, so a crash
replays the message and the `processed_event` row turns the replay into a no-op. A message
that cannot be decoded, or whose handler keeps failing, goes to the consumer group's
dead-letter topic with the error in its headers, and the consumer moves on.

This module is the group member: fetching, offsets, rebalances, stalls and the watchdog. What
happens to records inside the database is `shared.kafka.transactions`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from sqlalchemy import Table

from shared.contracts.topics import dead_letter_topic
from shared.db import Database
from shared.kafka.batching import EventHandler, Outcome, side_by_side
from shared.kafka.dead_letter import DLQ_VALUE_LIMIT, MAX_BACKOFF_S, Stopping
from shared.kafka.lead_keys import LeadKeyReader
from shared.kafka.membership import (
    abandon_group,
    fetch_unless_stopped,
    group_behind,
    group_client,
    messages_behind,
)
from shared.kafka.offsets import COMMIT_TIMEOUT_S, PendingOffsets
from shared.kafka.producer import create_producer
from shared.kafka.security import PLAINTEXT, KafkaSecurity
from shared.kafka.tracking import decode_record
from shared.kafka.transactions import EventTransactions
from shared.kafka.watchdog import PassStuck, PassWatch
from shared.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)


__all__ = ["DLQ_VALUE_LIMIT", "EventConsumer", "Outcome", "decode_record"]

# With partitions assigned and no record for this long, the consumer asks the broker whether
# it is behind; behind and fetching nothing is a stalled client (seen after a network cut),
# which is replaced by a fresh one.
STALL_CHECK_S = 30.0
# Passes failing this many times in a row get a fresh client. After a broker cut aiokafka can
# keep a connection whose transport is closed (uvloop then raises RuntimeError on each write)
# and the group coordinator's task dies of it: every later pass fails the same way, and being
# busy failing, the client never looks stalled.
REPLACE_AFTER_FAILURES = 5
# One attempt to reach the broker at start-up; a broker that accepts connections but never
# answers (frozen, or a firewall that drops) is given up on after this and retried.
CONNECT_TIMEOUT_S = 10.0


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: EventConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # A partition's lag is reported by whoever owns it: a stale figure here would alert.
        for tp in revoked:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self.owner.group_id, tp.topic, str(tp.partition))
        self.owner.on_rebalance()
        # Bounded: the rebalance waits for this, and uncommitted offsets only mean a replay.
        await asyncio.wait_for(self.owner.commit_pending(set(revoked)), COMMIT_TIMEOUT_S)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # Also here: a member dropped from the group (a session timeout) may never hear of a revoke.
        self.owner.on_rebalance()
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
        fetch_max_wait_ms: int = 40,
        security: KafkaSecurity = PLAINTEXT,
        partition_concurrency: int = 4,
        max_records: int = 1000,
        dead_letter_to: str | None = None,
        on_rebalance: Callable[[], None] | None = None,
        lead_keys: LeadKeyReader | None = None,
    ) -> None:
        """`on_rebalance`: called whenever partitions are revoked from or assigned to this member."""
        self.group_id = group_id
        self.on_rebalance = on_rebalance or (lambda: None)
        self.partition_concurrency = max(1, partition_concurrency)
        self.max_records = max_records
        self.handlers = dict(handlers)
        self.retry_backoff_s = retry_backoff_s
        self.topics = sorted(self.handlers)
        self.dead_letter_topic = dead_letter_to or dead_letter_topic(group_id)
        self._bootstrap = bootstrap_servers
        self._session_timeout_ms = session_timeout_ms
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._security = security
        self.stall_check_s = STALL_CHECK_S
        self._consumer = self._new_client()
        self._dlq = create_producer(bootstrap_servers, client_id=f"{group_id}-dlq", security=security)
        self._commits = PendingOffsets(group_id)
        self._pending = self._commits.offsets  # the same dict, never replaced
        self._handled: dict[TopicPartition, int] = {}
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.transactions = EventTransactions(
            group_id=group_id,
            handlers=self.handlers,
            db=db,
            processed_table=processed_table,
            dead_letters=self._dlq,
            dead_letter_topic=self.dead_letter_topic,
            stopping=self._stopping,
            max_attempts=max_attempts,
            retry_backoff_s=retry_backoff_s,
            lead_keys=lead_keys,
        )
        # One transaction per batch, or per message with retries and dead-lettering.
        self.handle_batch = self.transactions.handle_batch
        self.handle_record = self.transactions.handle_record
        self.watch = PassWatch(group_id)
        self._client_lost = False
        self._watchdog: asyncio.Task[None] | None = None
        self._dlq_started = False
        # False until the group client and dead-letter producer first reached the broker.
        self.connected = False

    def _new_client(self) -> AIOKafkaConsumer:
        return group_client(
            self._bootstrap,
            group_id=self.group_id,
            max_records=self.max_records,
            session_timeout_ms=self._session_timeout_ms,
            security=self._security,
            fetch_max_wait_ms=self._fetch_max_wait_ms,
        )

    async def _subscribe(self) -> None:
        # Started before it subscribes, the client joins its group in the background: aiokafka's
        # start() would otherwise wait for the group's assignment, holding up the service's
        # start (and its HTTP API) for as long as a rebalance takes, or forever if it is stuck.
        await self._consumer.start()
        self._consumer.subscribe(self.topics, listener=_CommitOnRevoke(self))

    async def start(self) -> None:
        """Join the group now if the broker answers, else in the background: a service starts
        (and serves its API) without a broker, and consumes once one appears."""
        await self._try_connect()
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.group_id}")
        self._watchdog = asyncio.create_task(self.watch.watch(self._task), name=f"watchdog:{self.group_id}")
        log.info(
            "kafka.consumer_started",
            extra={"group": self.group_id, "topics": self.topics, "connected": self.connected},
        )

    async def _try_connect(self) -> bool:
        """One attempt to reach the broker: the dead-letter producer, then the group client."""
        try:
            if not self._dlq_started:
                await asyncio.wait_for(self._dlq.start(), CONNECT_TIMEOUT_S)
                self._dlq_started = True
            await asyncio.wait_for(self._subscribe(), CONNECT_TIMEOUT_S)
        except Exception as exc:
            log.warning("kafka.consumer_connect_failed", extra={"group": self.group_id, "error": repr(exc)})
            # A client whose start failed half-way is not trusted with a second one.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._consumer.stop(), 5)
            self._consumer = self._new_client()
            return False
        self.connected = True
        return True

    async def _connect(self) -> None:
        failures = 0
        while not self.connected and not self._stopping.is_set():
            failures += 1
            await self._pause(min(self.retry_backoff_s * 2**failures, MAX_BACKOFF_S))
            if not self._stopping.is_set() and await self._try_connect():
                log.info("kafka.consumer_connected", extra={"group": self.group_id, "attempts": failures})

    async def stop(self, timeout_s: float = 15.0) -> None:
        """Finish the message in hand, commit what is done, leave the group, all within
        `timeout_s` (the finishing takes at most half of it)."""
        deadline = time.monotonic() + timeout_s
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s / 2)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        # Each step is bounded: a broker that stops answering (or never finishes a LeaveGroup)
        # must not hold the process hostage. Uncommitted offsets only mean a replay, which the
        # processed_event table absorbs.
        for step, action in (
            ("commit", self.commit_pending(None)),
            ("leave_group", self._consumer.stop()),
            ("dead_letter_producer", self._dlq.stop()),
        ):
            try:
                await asyncio.wait_for(action, max(0.5, deadline - time.monotonic()))
            except Exception as exc:
                log.warning("kafka.consumer_stop_incomplete", extra={"step": step, "error": repr(exc)})
                if step == "leave_group":
                    await abandon_group(self._consumer)
        log.info("kafka.consumer_stopped", extra={"group": self.group_id})

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def lag(self) -> int:
        """Messages on this member's partitions not yet handled (0 when caught up)."""
        return await messages_behind(self._consumer, self._handled)

    async def group_lag(self) -> int:
        """Messages on every partition of the consumed topics the group has not handled, this
        member's and the others' (0 when the whole group is caught up)."""
        return await group_behind(self._consumer, self.topics, self._handled)

    @property
    def has_partitions(self) -> bool:
        """True once the group has assigned this member its partitions."""
        return bool(self._consumer.assignment())

    async def _run(self) -> None:
        """Poll and handle until stopped. No failure ends the loop: a consumer that silently
        stopped would leave its service up but deaf, so errors are logged and retried, and a
        client that no longer fetches what it is behind on is replaced."""
        await self._connect()
        failures = 0
        quiet_since = time.monotonic()
        while not self._stopping.is_set():
            try:
                # Each step runs as the watchdog's pass: one that hangs is cancelled.
                if self._client_lost:
                    await self.watch.run(self._replace_client())
                elif await self.watch.run(self._poll_once()):
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > self.stall_check_s:
                    quiet_since = time.monotonic()
                    await self.watch.run(self._replace_client_if_stalled())
                failures = 0
            except Exception as exc:
                failures += 1
                log.error(
                    "kafka.consumer_loop_failed",
                    exc_info=exc,
                    extra={"group": self.group_id, "failures": failures},
                )
                await self._pause(min(self.retry_backoff_s * 2**failures, MAX_BACKOFF_S))
                if isinstance(exc, PassStuck) or failures >= REPLACE_AFTER_FAILURES:
                    # Wherever it hung or broke, a fresh client rejoins the group and fetches
                    # from the committed offsets.
                    self._client_lost = True
                if not self._client_lost:
                    await self._rewind()

    async def _rewind(self) -> None:
        """Fetch again from the first record not handled: a failed pass may have fetched records
        it never handled, and the client's position has already moved past them."""
        try:
            for tp in self._consumer.assignment():
                if tp in self._handled:
                    self._consumer.seek(tp, self._handled[tp])
                else:
                    await asyncio.wait_for(self._consumer.seek_to_committed(tp), 10)
        except Exception as exc:
            log.warning("kafka.consumer_rewind_failed", extra={"group": self.group_id, "error": repr(exc)})

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _replace_client_if_stalled(self) -> None:
        if not self._consumer.assignment():
            return
        try:
            behind: int | str = await asyncio.wait_for(self.lag(), 10)
        except Exception as exc:
            # A client that cannot say how far behind it is cannot be trusted to fetch either.
            behind = f"unknown: {exc!r}"
        if behind == 0:
            return
        log.warning("kafka.consumer_stalled", extra={"group": self.group_id, "behind": behind})
        await self._replace_client()

    async def _replace_client(self) -> None:
        """Leave the group with the current client (abandoning it if it cannot) and join anew;
        a replacement that fails half-way is tried again by the next pass."""
        self._client_lost = True
        try:
            await asyncio.wait_for(self.commit_pending(None), 5)
        except Exception as exc:
            log.warning("kafka.consumer_stall_commit_failed", extra={"error": repr(exc)})
        stalled = self._consumer
        try:
            await asyncio.wait_for(stalled.stop(), 10)
        except Exception:
            await abandon_group(stalled)
        # The new member starts from the committed offsets; anything handled but not committed
        # is replayed and absorbed by the processed_event table.
        self._pending.clear()
        self._handled.clear()
        self._consumer = self._new_client()
        await self._subscribe()
        self._client_lost = False

    async def _poll_once(self) -> bool:
        """One fetch and its handling; True if any record came."""
        batches = await fetch_unless_stopped(self._consumer, self._stopping, max_records=self.max_records)
        if not (len(batches) > 1 and await self._process_together(batches)):
            await self._process_apart(batches)
        # Committed after the database, as ever, but not waited for: the next fetch and its
        # handling overlap the round trip (`shared.kafka.offsets`).
        self._commits.commit_in_background(self._consumer)
        self._report_lag(batches)
        return bool(batches)

    async def _process_apart(
        self, batches: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        """Each partition in its own transactions."""
        if len(batches) == 1 or self.partition_concurrency == 1:
            for tp, records in batches.items():
                await self._process_partition(tp, records)
        else:
            # Partitions are independent (a lead's events on a topic all share one), so they
            # run side by side, each in order in its own transactions; the bound spares the pool.
            await side_by_side(batches, self._process_partition, limit=self.partition_concurrency)

    async def _process_together(
        self, batches: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> bool:
        """Every partition's records of one fetch in one transaction:
        one commit, and one pass through whatever the handlers lock (routing locks its reps),
        instead of one per partition. Each partition's records keep their order, and a lead's
        events all live on one partition; on any trouble the partitions go their own way."""
        if self._stopping.is_set():
            return False
        if not await self.handle_batch([record for records in batches.values() for record in records]):
            return False
        for tp, records in batches.items():
            self._pending[tp] = self._handled[tp] = records[-1].offset + 1
        return True

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
            except Stopping:
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

    async def commit_pending(self, only: set[TopicPartition] | None) -> None:
        """Commit the handled offsets (of `only`'s partitions) now, after the commit on its way."""
        await self._commits.settle()
        await self._commits.commit(self._consumer, only)
