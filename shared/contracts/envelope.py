"""The one envelope every Baton event travels in."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> uuid.UUID:
    """A version-7 UUID (RFC 9562): the time in milliseconds, then 74 random bits.

    Ids made one after another sort in the order they were made, so the btrees keyed by event id
    (each consumer's `processed_event`, the outbox's) take every new id at their right edge, on a
    page already in memory: with random version-4 ids each insert dirtied a page of its own
    anywhere in the index, and a table of a year's ids made the platform's floor slower.
    """
    return version_7_id(time.time_ns() // 1_000_000, os.urandom(10))


def version_7_id(unix_ms: int, random: bytes) -> uuid.UUID:
    """The version-7 UUID of millisecond `unix_ms` and 10 random bytes (74 of their bits are
    used): for a caller that reads the system's random source once for many ids."""
    bits = int.from_bytes(random)
    value = (unix_ms & _MS_MASK) << 80 | 7 << 76 | (bits >> 62 & 0xFFF) << 64
    return uuid.UUID(int=value | 1 << 63 | bits & _RAND_B_MASK)


_MS_MASK = (1 << 48) - 1
_RAND_B_MASK = (1 << 62) - 1


class Payload(BaseModel):
    """Base of every event payload. Unknown fields are ignored so additive changes stay compatible."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Envelope(BaseModel):
    """Metadata shared by every event; subclasses pin `event_type` and the payload model.

    `correlation_id` ties every event of one lead journey together (it starts at ingest);
    `causation_id` is the id of the event that directly caused this one.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: uuid.UUID = Field(default_factory=new_event_id)
    event_type: str = Field(default="", description="noun.past-tense-verb; pinned by each event class")
    schema_version: int = 1
    occurred_at: datetime = Field(default_factory=utc_now)
    producer: str
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    lead_id: uuid.UUID
    payload: Any

    @classmethod
    def new(
        cls,
        *,
        lead_id: uuid.UUID,
        payload: Payload,
        producer: str,
        caused_by: Envelope | None = None,
        occurred_at: datetime | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Self:
        """Build an event, inheriting the correlation id from the event that caused it.
        `event_id`: one the caller already gave a row the event describes (a new one if None)."""
        event_id = event_id or new_event_id()
        return cls(
            event_id=event_id,
            producer=producer,
            lead_id=lead_id,
            payload=payload,
            correlation_id=caused_by.correlation_id if caused_by else event_id,
            causation_id=caused_by.event_id if caused_by else None,
            occurred_at=occurred_at or utc_now(),
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @property
    def key(self) -> bytes:
        """The Kafka key: the lead id, so one lead's events keep their order."""
        return str(self.lead_id).encode()
