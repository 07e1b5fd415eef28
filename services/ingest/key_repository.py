"""SQL of the leads' sealing keys (`lead_key`) and of the key records ingest's outbox holds."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pydantic_core import to_json
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.models import LeadKey, outbox
from shared.contracts.topics import LEAD_KEY_CHANGED
from shared.outbox import insert_sql, lead_key_columns
from shared.sealing import new_key
from shared.session_driver import fetch

# One statement: issue the leads' missing keys, stage their key records (only those of the keys
# issued now) and read the keys the leads had already. The last part reads the statement's
# snapshot: a key a concurrent transaction committed while the insert waited on it is missing
# from it, and read by `_KEYS` after.
_ISSUE_AND_STAGE = (
    "WITH issued AS (INSERT INTO ingest.lead_key (lead_id, key, created_at) "
    "SELECT CAST(i AS uuid), v, c FROM unnest(CAST(:key AS varchar[]), CAST(:value AS bytea[]), "
    "CAST(:created_at AS timestamptz[])) AS w(i, v, c) ON CONFLICT (lead_id) DO NOTHING "
    "RETURNING lead_id, key), staged AS ("
    + insert_sql(outbox)
    + " WHERE k IN (SELECT CAST(lead_id AS varchar) FROM issued) RETURNING id, event_id) "
    "SELECT lead_id, key, NULL::bigint, NULL::uuid FROM issued "
    "UNION ALL SELECT NULL, NULL, id, event_id FROM staged "
    "UNION ALL SELECT lead_id, key, NULL, NULL FROM ingest.lead_key WHERE lead_id = ANY(CAST(:ids AS uuid[]))"
)
# The headers of a key record, as `shared.outbox.lead_key_columns` writes them, for statements
# that stage key records themselves.
KEY_RECORD_HEADERS: Final = to_json({"event_type": LEAD_KEY_CHANGED}).decode()
_KEYS = "SELECT lead_id, key FROM ingest.lead_key WHERE lead_id = ANY(CAST(:ids AS uuid[]))"


@dataclass(frozen=True)
class LeadKeys:
    """Each lead's key, and the key records staged for the keys issued now: `records` as
    `shared.outbox.lead_key_columns`, `staged` the (outbox id, record id) pairs inserted."""

    keys: dict[uuid.UUID, bytes]
    records: dict[str, list[Any]]
    staged: list[tuple[int, uuid.UUID]]


class LeadKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def keys_for(self, lead_ids: Iterable[uuid.UUID], *, at: datetime) -> LeadKeys:
        """Each lead's key, issuing one to a lead that has none and staging its key record in the
        outbox (leads in id order, so concurrent batches lock in one order)."""
        ids = sorted(set(lead_ids))
        if not ids:
            return LeadKeys({}, {}, [])
        # Most leads of an activity stream have their key already: read first, and draw new keys
        # (and their records' ids) only for the leads that have none.
        keys: dict[uuid.UUID, bytes] = {
            row[0]: row[1] for row in await fetch(self.session, _KEYS, {"ids": ids})
        }
        new = [lead_id for lead_id in ids if lead_id not in keys]
        if not new:
            return LeadKeys(keys, {}, [])
        records = lead_key_columns([(lead_id, new_key()) for lead_id in new], at=at)
        staged: list[tuple[int, uuid.UUID]] = []
        for lead_id, key, row_id, record_id in await fetch(
            self.session, _ISSUE_AND_STAGE, {**records, "ids": new}
        ):
            if lead_id is not None:
                keys[lead_id] = key
            else:
                staged.append((row_id, record_id))
        missing = [lead_id for lead_id in new if lead_id not in keys]
        if missing:
            keys.update({row[0]: row[1] for row in await fetch(self.session, _KEYS, {"ids": missing})})
        return LeadKeys(keys, records, staged)

    async def destroy(self, lead_id: uuid.UUID) -> None:
        """Erasure: delete the lead's key, and empty the records of it the outbox still holds."""
        await self.session.execute(delete(LeadKey).where(LeadKey.lead_id == lead_id))
        await self.session.execute(
            update(outbox)
            .where(outbox.c.topic == LEAD_KEY_CHANGED, outbox.c.key == str(lead_id))
            .values(value=b"")
        )
