"""Sealing ingest's events before they are staged: the first event of a lead issues its key.

The key record is staged in the same transaction and before the events sealed with it, and the
relay publishes key records (and waits for their acks) before the events staged with or after
them: no consumer can see an event whose key is not on `lead.key_changed` yet (docs/erasure.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.key_repository import LeadKeyRepository
from services.ingest.models import outbox
from services.ingest.repository import IssuedKey
from shared.contracts import Envelope, LeadIngestedPayload, utc_now
from shared.outbox import announce, lead_key_columns, remember, stage
from shared.sealing import PERSONAL_FIELDS, has_clear_fields, seal, seal_event

E = TypeVar("E", bound=Envelope)
LEAD_INGESTED: Final = "lead.ingested"


async def sealed(
    session: AsyncSession, events: Sequence[E], *, known: Mapping[uuid.UUID, bytes] | None = None
) -> list[E]:
    """`events` with their personal fields sealed with their leads' keys, `known` or read here; a
    lead without a key is issued one, staged in the outbox ahead of the events."""
    keys = await lead_keys(
        session, [event.lead_id for event in events if has_clear_fields(event)], known=known
    )
    return [seal_event(event, keys[event.lead_id]) if has_clear_fields(event) else event for event in events]


async def sealed_fields(
    session: AsyncSession, fields: Mapping[uuid.UUID, dict[str, Any]]
) -> dict[uuid.UUID, str]:
    """Each lead's `fields` sealed with its key (issued as `sealed` does): once per lead, for
    every event of a batch that carries the same fields (an activity stream's email)."""
    keys = await lead_keys(session, list(fields))
    return {lead_id: seal(keys[lead_id], lead_id, values) for lead_id, values in fields.items()}


async def lead_keys(
    session: AsyncSession, lead_ids: Iterable[uuid.UUID], *, known: Mapping[uuid.UUID, bytes] | None = None
) -> dict[uuid.UUID, bytes]:
    """Each lead's key, `known` or read here in one statement; a lead without one is issued one,
    its key record staged in the outbox (and handed to this process's relay) before anything
    staged after this call."""
    keys = dict(known or {})
    missing = [lead_id for lead_id in lead_ids if lead_id not in keys]
    if missing:
        found = await LeadKeyRepository(session).keys_for(missing, at=utc_now())
        if found.staged:
            # This process's relay publishes the records from memory, as the events staged after them.
            remember(session, outbox, found.records, found.staged)
            await announce(session, outbox, remembered=True)
        keys.update(found.keys)
    return keys


def has_personal_fields(payload: LeadIngestedPayload) -> bool:
    """Whether the `lead.ingested` of this payload has fields to seal (its lead needs a key)."""
    return any(getattr(payload, name) not in (None, "") for name in PERSONAL_FIELDS[LEAD_INGESTED])


async def stage_issued(session: AsyncSession, issued: Sequence[IssuedKey], *, at: datetime) -> None:
    """Hand the key records a statement staged (`LeadRepository.resolve_batch`) to this process's
    relay, as `stage` does for the rows it inserts."""
    if not issued:
        return
    records = lead_key_columns([(key.lead_id, key.key) for key in issued], at=at)
    records["event_id"] = [key.record_id for key in issued]  # the ids the statement drew
    remember(session, outbox, records, [(key.row_id, key.record_id) for key in issued])
    await announce(session, outbox, remembered=True)


async def shred_key(session: AsyncSession, lead_id: uuid.UUID) -> None:
    """Erasure's part: destroy the lead's key here, and stage its tombstone for every service."""
    await LeadKeyRepository(session).destroy(lead_id)
    await stage(session, outbox, lead_key_columns([(lead_id, None)], at=utc_now()))
