"""SQL of the leads' sealing keys (`lead_key`) and of the key records ingest's outbox holds."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.models import LeadKey, outbox
from shared.contracts.topics import LEAD_KEY_CHANGED
from shared.db import sql_text
from shared.sealing import new_key

# Arrays, not one parameter per lead: one statement text (and plan) for any batch size.
_ISSUE = sql_text(
    "INSERT INTO ingest.lead_key (lead_id, key, created_at) "
    "SELECT i, k, CAST(:at AS timestamptz) FROM unnest(CAST(:ids AS uuid[]), CAST(:keys AS bytea[])) AS u(i, k) "
    "ON CONFLICT (lead_id) DO NOTHING RETURNING lead_id"
)
_KEYS = sql_text("SELECT lead_id, key FROM ingest.lead_key WHERE lead_id = ANY(CAST(:ids AS uuid[]))")


class LeadKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def keys_for(
        self, lead_ids: Iterable[uuid.UUID], *, at: datetime
    ) -> tuple[dict[uuid.UUID, bytes], list[uuid.UUID]]:
        """Each lead's key, issuing one to a lead that has none; returns the keys and the leads
        issued one now (in id order, so concurrent batches lock in one order)."""
        ids = sorted(set(lead_ids))
        if not ids:
            return {}, []
        issued = list(
            await self.session.scalars(_ISSUE, {"ids": ids, "keys": [new_key() for _ in ids], "at": at})
        )
        # A statement of its own: under READ COMMITTED it sees a key a concurrent transaction
        # committed while the insert above waited on it.
        rows = await self.session.execute(_KEYS, {"ids": ids})
        return {row[0]: row[1] for row in rows}, sorted(issued)

    async def destroy(self, lead_id: uuid.UUID) -> None:
        """Erasure: delete the lead's key, and empty the records of it the outbox still holds."""
        await self.session.execute(delete(LeadKey).where(LeadKey.lead_id == lead_id))
        await self.session.execute(
            update(outbox)
            .where(outbox.c.topic == LEAD_KEY_CHANGED, outbox.c.key == str(lead_id))
            .values(value=b"")
        )
