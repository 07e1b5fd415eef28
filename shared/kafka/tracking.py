"""What a consumer knows about the records it handles: their events, and which it handled before.

A `processed_event(consumer, event_id)` row, inserted in the transaction that applies the
event, turns a redelivery into a no-op (the idempotent-consumer half of the outbox pattern).
A row is needed only as long as its event can be redelivered: `ProcessedEventPruner` deletes
the older ones, so the table (and the index every insert walks) stays the size of that window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from aiokafka import ConsumerRecord
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bulk import as_arrays, unnest_insert
from shared.contracts import AnyEvent, UndecodableEvent, decode_event, utc_now
from shared.db import Database
from shared.workers import PeriodicWorker

_PROCESSED = ("consumer", "event_id", "processed_at")


def decode_record(record: ConsumerRecord[bytes, bytes]) -> AnyEvent:
    """Decode a record's value; a record without a key is refused too, since every event is
    keyed by its lead id and a keyless one escaped the per-lead ordering on the way in."""
    event = decode_event(record.value)
    if record.key is None:
        raise UndecodableEvent(f"message has no key; {event.event_type} events are keyed by lead id")
    return event


async def record_processed(
    session: AsyncSession, table: Table, consumer: str, events: Sequence[AnyEvent]
) -> set[Any]:
    """Insert the tracking rows of `events` at once; returns the ids not processed before."""
    if not events:
        return set()
    now = utc_now()
    statement = text(unnest_insert(table, _PROCESSED) + " ON CONFLICT DO NOTHING RETURNING event_id")
    rows = ((consumer, e.event_id, now) for e in events)
    return set(await session.scalars(statement, as_arrays(table, _PROCESSED, rows)))


class ProcessedEventPruner(PeriodicWorker):
    """Deletes a consumer's `processed_event` rows older than `retention`, a chunk per
    transaction (short transactions; no long lock on what the consumer inserts beside them)."""

    name = "processed_event.prune"
    chunk = 10_000

    def __init__(
        self, db: Database, table: Table, *, consumer: str, retention: timedelta, interval_s: float
    ) -> None:
        super().__init__(interval_s=interval_s)
        self.db = db
        self.consumer = consumer
        self.retention = retention
        # No index on processed_at (one more on every insert would slow the consumer): rows are
        # found by a scan, which meets the oldest first since the heap fills in insert order.
        name = f"{table.schema}.{table.name}"
        self._delete = text(
            f"DELETE FROM {name} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {name} "
            "WHERE consumer = :consumer AND processed_at < :before LIMIT :chunk))"
        )

    async def run_once(self) -> int:
        """Delete every expired row; returns how many."""
        before, total = utc_now() - self.retention, 0
        while not self.stopping:
            async with self.db.transaction() as session:
                result = await session.execute(
                    self._delete, {"consumer": self.consumer, "before": before, "chunk": self.chunk}
                )
            deleted = int(getattr(result, "rowcount", 0) or 0)
            total += deleted
            if deleted < self.chunk:
                break
        return total
