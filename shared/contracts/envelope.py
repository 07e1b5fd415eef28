"""The one envelope every Baton event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class Payload(BaseModel):
    """Base of every event payload. Unknown fields are ignored so additive changes stay compatible."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Envelope(BaseModel):
    """Metadata shared by every event; subclasses pin `event_type` and the payload model.

    `correlation_id` ties every event of one lead journey together (it starts at ingest);
    `causation_id` is the id of the event that directly caused this one.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
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
    ) -> Self:
        """Build an event, inheriting the correlation id from the event that caused it."""
        event_id = uuid.uuid4()
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
