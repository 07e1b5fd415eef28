"""The transactional outbox: events are rows written with the state change, then relayed.

A service never publishes to Kafka from a request or a handler. It calls `add_event` with the
session that holds its state change; both commit together. The relay then publishes unsent
rows in id order (keyed by lead id, so per-lead order holds), waits for the broker's acks and
marks them sent. A crash between publish and mark re-publishes; consumers are idempotent.

At commit, a relay running in the same process is woken directly. Only a process without a
relay of that schema sends `NOTIFY`: one per transaction at thousands of commits a second
serializes commits on PostgreSQL's notification queue lock for no gain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder
from pydantic_core import to_json
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    func,
    select,
    text,
)
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from shared.contracts import Envelope, utc_now
from shared.contracts.topics import topic_for
from shared.db import Database, sql_text
from shared.metrics import OUTBOX_LAG_SECONDS, OUTBOX_PUBLISHED
from shared.partitioner import KeyPartitioner
from shared.tracing import inject_headers

log = logging.getLogger(__name__)

SENT_RETENTION = timedelta(days=7)
LOCK_BUSY_RETRY_S = 0.02
_STAGED = "baton_outbox_staged"
_NOTIFIED = "baton.outbox_notified_in"
TRACE_HEADERS_BY_CAUSE = "baton.trace_headers_by_cause"
# The relays running in this process, by notification channel.
_local_relays: dict[str, set[OutboxRelay]] = {}


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("event_type", String(64), nullable=False),
        Column("topic", String(255), nullable=False),
        Column("key", String(255), nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True)),
        Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
    )


def processed_event_table(metadata: MetaData) -> Table:
    return Table(
        "processed_event",
        metadata,
        Column("consumer", String(255), nullable=False),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("consumer", "event_id"),
    )


def notify_channel(schema: str) -> str:
    return f"baton_outbox_{schema}"


async def add_event(session: AsyncSession, table: Table, event: Envelope) -> None:
    """Stage `event` for publication in the caller's transaction (no broker call here)."""
    await add_events(session, table, [event])


async def add_events(session: AsyncSession, table: Table, events: Sequence[Envelope]) -> None:
    """Stage several events in one statement; their ids keep the given order."""
    if not events:
        return
    await session.execute(sql_text(insert_sql(table)), staged_columns(session, events))
    await announce(session, table)


def staged_columns(session: AsyncSession, events: Sequence[Envelope]) -> dict[str, list[Any]]:
    """`outbox_columns` for events staged in `session`'s transaction, each continuing the trace
    of the event that caused it; for a caller that folds `insert_sql` into its own statement
    (and then calls `announce`)."""
    traces = None
    # A consumer batch leaves each incoming event's trace context here (no span is current).
    by_cause: dict[Any, dict[str, str]] = session.info.get(TRACE_HEADERS_BY_CAUSE) or {}
    if by_cause:
        current = inject_headers()
        traces = [by_cause.get(event.causation_id, current) for event in events]
    return outbox_columns(events, traces)


def insert_sql(table: Table) -> str:
    """`INSERT ... SELECT FROM unnest(...)` of `outbox_columns`' arrays: one statement text for any
    number of events, so PostgreSQL plans it once per connection and the driver encodes arrays
    in C (a multi-row VALUES is a new statement, and a new plan, for every batch size). A caller
    may append a `WHERE` to insert only when an earlier part of its statement succeeded."""
    found = _INSERT_SQL.get(table)
    if found is None:
        found = _INSERT_SQL[table] = (
            f"INSERT INTO {table.schema}.{table.name} "
            "(event_id, event_type, topic, key, value, headers, created_at) "
            "SELECT e, t, tp, k, v, CAST(h AS jsonb), c FROM unnest(CAST(:event_id AS uuid[]), "
            "CAST(:event_type AS varchar[]), CAST(:topic AS varchar[]), CAST(:key AS varchar[]), "
            "CAST(:value AS bytea[]), CAST(:headers AS text[]), CAST(:created_at AS timestamptz[])) "
            "AS u(e, t, tp, k, v, h, c)"
        )
    return found


_INSERT_SQL: dict[Table, str] = {}


def outbox_columns(
    events: Sequence[Envelope], traces: Sequence[Mapping[str, str]] | None = None
) -> dict[str, list[Any]]:
    """The parameters of `insert_sql`: one array per column, in the events' order. `traces[i]` is
    the trace context `events[i]` continues (by default, the caller's current one)."""
    current = inject_headers() if traces is None else {}
    columns: dict[str, list[Any]] = {
        "event_id": [],
        "event_type": [],
        "topic": [],
        "key": [],
        "value": [],
        "headers": [],
        "created_at": [],
    }
    for index, event in enumerate(events):
        event_id = str(event.event_id)
        correlation_id = event_id if event.correlation_id == event.event_id else str(event.correlation_id)
        headers = {
            "event_type": event.event_type,
            "schema_version": str(event.schema_version),
            "event_id": event_id,
            "correlation_id": correlation_id,
            "producer": event.producer,
            "content-type": "application/json",
            # The W3C trace context, so the consumer continues this trace.
            **(current if traces is None else traces[index]),
        }
        columns["event_id"].append(event.event_id)
        columns["event_type"].append(event.event_type)
        columns["topic"].append(topic_for(event.event_type))
        columns["key"].append(str(event.lead_id))
        columns["value"].append(event.to_bytes())
        # jsonb keeps no formatting: pydantic's serializer is five times faster than `json`'s.
        columns["headers"].append(to_json(headers).decode())
        columns["created_at"].append(event.occurred_at)
    return columns


async def announce(session: AsyncSession, table: Table) -> None:
    """Tell the relays that this transaction staged events, effective at its commit."""
    channel = notify_channel(str(table.schema))
    if _local_relays.get(channel):
        session.info[_STAGED] = channel
        return
    # Delivered at commit only, so a relay elsewhere wakes exactly when there is something to send.
    # PostgreSQL folds identical notifications of a transaction into one, so one per
    # transaction is the same signal and saves a round trip per event in a consumer batch.
    transaction = session.get_transaction()
    if transaction is None or session.info.get((_NOTIFIED, channel)) is not transaction:
        await session.execute(select(func.pg_notify(channel, "")))
        session.info[(_NOTIFIED, channel)] = transaction


def notify_due(session: AsyncSession, table: Table) -> str | None:
    """The channel `announce` would notify in a round trip of its own now, for a caller that
    folds `pg_notify(channel, '')` into a statement it sends anyway (and then calls `notified`);
    None when `announce` needs no round trip (local relays, or notified in this transaction)."""
    channel = notify_channel(str(table.schema))
    transaction = session.get_transaction()
    if _local_relays.get(channel) or transaction is None:
        return None
    return None if session.info.get((_NOTIFIED, channel)) is transaction else channel


def notified(session: AsyncSession, table: Table) -> None:
    """Record that the caller's statement sent the notification `notify_due` named."""
    session.info[(_NOTIFIED, notify_channel(str(table.schema)))] = session.get_transaction()


@sa_event.listens_for(Session, "after_commit")
def _wake_local_relays(session: Session) -> None:
    channel = session.info.pop(_STAGED, None)
    for relay in _local_relays.get(channel, ()) if channel else ():
        relay.wake()


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_staged(session: Session, _previous: object) -> None:
    session.info.pop(_STAGED, None)


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
        self._listen_conn: AsyncConnection | None = None
        self._partitioner = KeyPartitioner()
        # Built once: a pass runs for every commit that staged events. `= ANY` of one array, not
        # `IN` of one parameter per row, so PostgreSQL prepares one statement, not one per size.
        self._try_lock = select(func.pg_try_advisory_xact_lock(self._lock_key))
        self._unsent = select(table).where(table.c.sent_at.is_(None)).order_by(table.c.id).limit(batch_size)
        self._mark_sent = text(
            f"UPDATE {table.schema}.{table.name} SET sent_at = :at WHERE id = ANY(CAST(:ids AS bigint[]))"
        )

    async def start(self) -> None:
        if self.listen:
            await self._listen()
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay:{self.service}")
        _local_relays.setdefault(self.channel, set()).add(self)

    def wake(self) -> None:
        """Something was committed to the outbox: publish it now, not at the next poll."""
        self._wake.set()

    async def stop(self, timeout_s: float = 15.0) -> None:
        """Publish what is already committed (for up to `timeout_s`), then stop."""
        _local_relays.get(self.channel, set()).discard(self)
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._listen_conn is not None:
            with contextlib.suppress(Exception):
                await self._listen_conn.close()

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _listen(self) -> None:
        try:
            conn = await self.db.engine.connect()
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.add_listener(self.channel, lambda *_: self._wake.set())
            self._listen_conn = conn
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
                published = await self.publish_batch()
            except Exception as exc:
                log.warning("outbox.publish_failed", extra={"service": self.service, "error": repr(exc)})
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
            elif published < self.batch_size:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)

    async def publish_batch(self) -> int:
        """Publish up to one batch of unsent events; returns how many were published, or -1 when
        another relay holds the lock."""
        async with self.db.transaction() as session:
            if not await session.scalar(self._try_lock):
                return -1
            rows = (await session.execute(self._unsent)).all()
            if not rows:
                OUTBOX_LAG_SECONDS.labels(self.service).set(0)
                return 0
            OUTBOX_LAG_SECONDS.labels(self.service).set((utc_now() - rows[0].created_at).total_seconds())
            await asyncio.gather(*await self._send(rows))
            await session.execute(self._mark_sent, {"ids": [row.id for row in rows], "at": utc_now()})
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def _send(self, rows: Sequence[Any]) -> list[asyncio.Future[Any]]:
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
            batch = open_batches.get((row.topic, partition))
            if (
                batch is None
                or batch.append(key=key, value=row.value, timestamp=None, headers=headers) is None
            ):
                if batch is not None:
                    deliveries.append(await self.producer.send_batch(batch, row.topic, partition=partition))
                batch = open_batches[row.topic, partition] = self.producer.create_batch()
                # The first record always fits an empty batch.
                batch.append(key=key, value=row.value, timestamp=None, headers=headers)
        for (topic, partition), batch in open_batches.items():
            deliveries.append(await self.producer.send_batch(batch, topic, partition=partition))
        return deliveries

    async def _prune(self) -> None:
        async with self.db.transaction() as session:
            await session.execute(delete(self.table).where(self.table.c.sent_at < utc_now() - SENT_RETENTION))


__all__ = [
    "OutboxRelay",
    "add_event",
    "add_events",
    "announce",
    "insert_sql",
    "notify_channel",
    "outbox_columns",
    "outbox_table",
    "processed_event_table",
]
