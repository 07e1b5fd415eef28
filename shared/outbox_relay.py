"""The outbox relay: publishes a service's outbox rows to the broker, in order, and marks them sent.

Rows staged in this process arrive from memory right after their commit (`shared.outbox.stage`):
the relay marks them sent and publishes them in one transaction, without reading them back.
Polling the table (on a timer, on `NOTIFY`, and whenever a commit staged rows some other way)
stays as the path for everything else: rows of other processes, rows a crashed process left
behind, rows dropped from memory. Marked sent in the transaction that waits for the broker's
acks, a row a crash interrupts is still unsent after the rollback, and polled again. The passes'
statements run on the driver, on a connection the relay keeps (`shared.outbox_driver`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder
from sqlalchemy import Table

from shared.contracts import utc_now
from shared.contracts.topics import LEAD_KEY_CHANGED
from shared.db import Database
from shared.kafka.producer import heal_producer
from shared.metrics import OUTBOX_LAG_SECONDS, OUTBOX_PUBLISHED
from shared.outbox import SENT_RETENTION, StagedRow, _local_relays, notify_channel
from shared.outbox_driver import RelayStatements
from shared.partitioner import KeyPartitioner

log = logging.getLogger(__name__)

LOCK_BUSY_RETRY_S = 0.02
# Rows kept in memory beyond this many are dropped (they stay unsent in the table, and the next
# poll publishes them): a broker that is away must not grow the process without bound. A count of
# rows, not of batches, so a larger batch size does not raise it.
MEMORY_ROWS = 10_000


class OutboxRelay:
    """Publishes one service's outbox. Safe to run in every replica: an advisory lock per
    batch lets one relay publish at a time, which keeps per-lead order."""

    def __init__(
        self,
        *,
        db: Database,
        table: Table,
        producer: AIOKafkaProducer,
        service: str,
        poll_interval_s: float = 0.5,
        batch_size: int = 500,
        producer_connected: asyncio.Event | None = None,
        listen: bool = True,
    ) -> None:
        """`producer_connected` is set once `producer` reached the broker; until then the outbox
        only fills. `listen=False` leaves out LISTEN (PgBouncer in transaction mode cannot hold
        it): the relay is then woken by its own process's commits, and otherwise polls."""
        self.db = db
        self.producer_connected = producer_connected
        self.listen = listen
        self.table = table
        self.producer = producer
        self.service = service
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self.channel = notify_channel(str(table.schema))
        self._lock_key = zlib.crc32(f"baton-outbox:{table.schema}".encode())
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._partitioner = KeyPartitioner()
        # The connection the passes keep also holds the LISTEN: no connection of the pool beyond it.
        self._sql = RelayStatements(
            db,
            table,
            lock_key=self._lock_key,
            batch_size=batch_size,
            listen=(self.channel, self.wake) if listen else None,
        )
        self._memory: list[StagedRow] = []
        # Whether the table may hold rows memory does not: so at start (a previous run's).
        self._poll_due = True

    async def start(self) -> None:
        if self.listen:
            await self._listen()
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay:{self.service}")
        _local_relays.setdefault(self.channel, set()).add(self)

    def wake(self) -> None:
        """Something was committed to the outbox: publish it now, not at the next poll."""
        self._poll_due = True
        self._wake.set()

    def staged(self, rows: list[StagedRow]) -> None:
        """`rows` were just committed by this process: publish them from memory."""
        if len(self._memory) + len(rows) > max(MEMORY_ROWS, self.batch_size):
            self._memory.clear()
            self._poll_due = True
        else:
            self._memory.extend(rows)
        self._wake.set()

    async def stop(self, timeout_s: float = 15.0) -> None:
        """Publish what is already committed (for up to `timeout_s`), then stop."""
        _local_relays.get(self.channel, set()).discard(self)
        self._stopping.set()
        self.wake()
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._sql.drop(invalidate=self.listen)

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _listen(self) -> None:
        try:
            await self._sql.connect()
        except Exception as exc:  # polling still delivers everything, only later
            log.warning("outbox.listen_failed", extra={"error": repr(exc)})

    async def _until_connected(self) -> bool:
        """Wait for the producer's first connection; False if the relay is stopped first."""
        if self.producer_connected is None:
            return True
        connected = asyncio.create_task(self.producer_connected.wait())
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({connected, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for waiter in (connected, stopping):
            waiter.cancel()
        return self.producer_connected.is_set()

    async def _run(self) -> None:
        if not await self._until_connected():
            return
        passes = 0
        while True:
            try:
                published = await self.publish_pass()
            except Exception as exc:
                log.warning("outbox.publish_failed", extra={"service": self.service, "error": repr(exc)})
                # Rows taken from memory by the failed pass are unsent again after its rollback.
                self._poll_due = True
                await heal_producer(self.producer)
                published = 0
                await asyncio.sleep(self.poll_interval_s)
            if self._stopping.is_set() and published <= 0:
                return
            passes += 1
            if passes % 1000 == 0:
                await self._prune()
            if published < 0:
                # Another replica's relay holds the lock and may have read its batch before this
                # process's last commit: look again shortly rather than at the next poll.
                await asyncio.sleep(LOCK_BUSY_RETRY_S)
            elif published < self.batch_size and not self._memory:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
                except TimeoutError:
                    self._poll_due = True

    async def publish_pass(self) -> int:
        """Poll the table first if it may hold rows memory does not (older ones go first), else
        publish what memory holds; returns how many were published, or -1 when another relay
        holds the lock."""
        if self._poll_due:
            polled = await self._poll()
            if polled != 0:
                # Memory's rows are in the table too: behind a backlog, the polls (in id order)
                # publish them, where claiming them from memory would find them held back.
                return polled
        published = await self.publish_staged() if self._memory else 0
        if published >= 0 and self._poll_due:
            # Some of memory's rows were held back behind older ones, or sent already.
            polled = await self._poll()
            return polled if polled < 0 else published + polled
        return published

    async def _poll(self) -> int:
        self._poll_due = False
        polled = await self.publish_batch()
        # The lock was busy, or a full batch came (a backlog): poll again on the next pass.
        self._poll_due = polled < 0 or polled >= self.batch_size
        return polled

    async def publish_staged(self) -> int:
        """Publish up to one batch of the rows this process staged, marking them sent in the same
        transaction (one statement, no read); returns how many, or -1 if the lock is held."""
        async with self._sql.transaction() as driver:
            if not await self._sql.try_lock(driver):
                return -1
            rows = sorted(self._memory[: self.batch_size])
            del self._memory[: len(rows)]
            if not rows:
                # Dropped while this pass waited for the lock (too many waiting: the poll sends them).
                return 0
            claimed = await self._sql.claim(driver, rows, utc_now())
            if len(claimed) < len(rows):
                # Sent by another pass already, or held back behind an older row: the poll knows.
                self._poll_due = True
            rows = [row for row in rows if row.id in claimed]
            if rows:
                OUTBOX_LAG_SECONDS.labels(self.service).set((utc_now() - rows[0].created_at).total_seconds())
                await self._publish(rows)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def publish_batch(self) -> int:
        """Publish up to one batch of unsent events; returns how many were published, or -1 when
        another relay holds the lock."""
        async with self._sql.transaction() as driver:
            if not await self._sql.try_lock(driver):
                return -1
            rows = await self._sql.unsent(driver)
            if not rows:
                OUTBOX_LAG_SECONDS.labels(self.service).set(0)
                return 0
            OUTBOX_LAG_SECONDS.labels(self.service).set((utc_now() - rows[0].created_at).total_seconds())
            await self._publish(rows)
            await self._sql.mark_sent(driver, [row.id for row in rows], utc_now())
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def _publish(self, rows: Sequence[StagedRow]) -> None:
        """Send the rows and wait for the broker's acks, lead keys first: a consumer that sees an
        event sealed with a key can then always find that key on `lead.key_changed` by reading
        it to its end (docs/erasure.md)."""
        keys = [row for row in rows if row.topic == LEAD_KEY_CHANGED]
        if keys:
            await asyncio.gather(*await self._send(keys))
            rows = [row for row in rows if row.topic != LEAD_KEY_CHANGED]
        await asyncio.gather(*await self._send(rows))

    async def _send(self, rows: Sequence[StagedRow]) -> list[asyncio.Future[Any]]:
        """Queue the rows for the broker as record batches, one partition's rows in their order,
        each on the partition `producer.send` would choose for its key; returns the batches'
        deliveries. (`send` per row cost more than the rest of a pass: a future, a metadata wait
        and a size estimate per message.)"""
        partitions: dict[str, list[int]] = {}
        open_batches: dict[tuple[str, int], BatchBuilder] = {}
        deliveries: list[asyncio.Future[Any]] = []
        for row in rows:
            if row.topic not in partitions:
                partitions[row.topic] = sorted(await self.producer.partitions_for(row.topic))
            key = row.key.encode()
            partition = self._partitioner(key, partitions[row.topic], partitions[row.topic])
            headers = [(k, str(v).encode()) for k, v in row.headers.items()]
            # An erased lead's key row is empty: a tombstone, which compaction then removes.
            value = (row.value or None) if row.topic == LEAD_KEY_CHANGED else row.value
            batch = open_batches.get((row.topic, partition))
            if batch is None or batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                if batch is not None:
                    deliveries.append(await self.producer.send_batch(batch, row.topic, partition=partition))
                batch = open_batches[row.topic, partition] = self.producer.create_batch()
                # The first record always fits an empty batch.
                batch.append(key=key, value=value, timestamp=None, headers=headers)
        for (topic, partition), batch in open_batches.items():
            deliveries.append(await self.producer.send_batch(batch, topic, partition=partition))
        return deliveries

    async def _prune(self) -> None:
        try:
            await self._sql.prune(utc_now() - SENT_RETENTION)
        except Exception as exc:  # the next prune deletes them; the relay must not stop for it
            log.warning("outbox.prune_failed", extra={"service": self.service, "error": repr(exc)})


__all__ = ["LOCK_BUSY_RETRY_S", "OutboxRelay"]
