"""Sealing ingest's events before they are staged: the first event of a lead issues its key.

The key record is staged in the same transaction and before the events sealed with it, and the
relay publishes key records (and waits for their acks) before the events staged with or after
them: no consumer can see an event whose key is not on `lead.key_changed` yet (docs/erasure.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.key_repository import LeadKeyRepository
from services.ingest.models import outbox
from shared.contracts import Envelope, utc_now
from shared.outbox import announce, lead_key_columns, remember, stage
from shared.sealing import has_clear_fields, seal_event

E = TypeVar("E", bound=Envelope)


async def sealed(session: AsyncSession, events: Sequence[E]) -> list[E]:
    """`events` with their personal fields sealed with their leads' keys; a lead without a key is
    issued one, staged in the outbox ahead of the events."""
    personal = [event.lead_id for event in events if has_clear_fields(event)]
    if not personal:
        return list(events)
    found = await LeadKeyRepository(session).keys_for(personal, at=utc_now())
    if found.staged:
        # This process's relay publishes the records from memory, as the events staged after them.
        remember(session, outbox, found.records, found.staged)
        await announce(session, outbox, remembered=True)
    keys = found.keys
    return [seal_event(event, keys[event.lead_id]) if has_clear_fields(event) else event for event in events]


async def shred_key(session: AsyncSession, lead_id: uuid.UUID) -> None:
    """Erasure's part: destroy the lead's key here, and stage its tombstone for every service."""
    await LeadKeyRepository(session).destroy(lead_id)
    await stage(session, outbox, lead_key_columns([(lead_id, None)], at=utc_now()))
