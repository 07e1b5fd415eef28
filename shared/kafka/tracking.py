"""What a consumer knows about the records it handles: their events, and which it handled before.

A `processed_event(consumer, event_id)` row, inserted in the transaction that applies the
event, turns a redelivery into a no-op (the idempotent-consumer half of the outbox pattern).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bulk import as_arrays, unnest_insert
from shared.contracts import AnyEvent, UndecodableEvent, decode_event, utc_now

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
