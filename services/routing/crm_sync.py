"""Use cases of the CRM owner write-back: each rep's CRM user id, the sync rows an assignment
leaves, and how an attempt settles them (retried with backoff, `dead` only when attempts run out,
never dropped)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import webhooks
from services.routing.crm_repository import CrmRepository
from services.routing.errors import RepNotFound
from services.routing.models import audit
from services.routing.outbound_errors import CrmSyncNotRetryable
from services.routing.outbound_schemas import CrmIdentityPut, CrmIdentityRead, CrmSyncRead
from services.routing.repository import RepRepository
from shared.audit import SYSTEM_ACTOR, record_change


async def set_rep_identity(
    session: AsyncSession,
    *,
    rep_id: uuid.UUID,
    identity: CrmIdentityPut,
    at: datetime,
    by: str = SYSTEM_ACTOR,
) -> CrmIdentityRead:
    """Record the rep's user id in a CRM; later assignments to them write it as the owner."""
    if await RepRepository(session).get(rep_id) is None:
        raise RepNotFound(f"no rep {rep_id}")
    repository = CrmRepository(session)
    before = next(
        (i.crm_user_id for i in await repository.identities({rep_id}) if i.crm == identity.crm), None
    )
    await repository.put_identity(rep_id=rep_id, crm=identity.crm, crm_user_id=identity.crm_user_id, at=at)
    await record_change(
        session,
        audit,
        actor=by,
        action="crm_identity.set",
        object_type="rep",
        object_id=str(rep_id),
        before=None if before is None else {"crm": identity.crm, "crm_user_id": before},
        after={"crm": identity.crm, "crm_user_id": identity.crm_user_id},
    )
    return CrmIdentityRead(rep_id=rep_id, crm=identity.crm, crm_user_id=identity.crm_user_id, updated_at=at)


async def list_rep_identities(session: AsyncSession, *, rep_id: uuid.UUID | None) -> list[CrmIdentityRead]:
    return [
        CrmIdentityRead.model_validate(i)
        for i in await CrmRepository(session).identities(None if rep_id is None else {rep_id})
    ]


async def retry_sync(
    session: AsyncSession, *, lead_id: uuid.UUID, crm: str | None, at: datetime, by: str = SYSTEM_ACTOR
) -> list[CrmSyncRead]:
    """Queue a lead's failed or dead owner syncs again (after fixing a token or a user id)."""
    before = await list_syncs(session, state=None, lead_id=lead_id, limit=10)
    if not await CrmRepository(session).restart(lead_id=lead_id, crm=crm, at=at):
        raise CrmSyncNotRetryable(f"lead {lead_id} has no failed or dead CRM sync")
    after = await list_syncs(session, state=None, lead_id=lead_id, limit=10)
    await record_change(  # the lead by its id, the syncs by their states (errors may quote the lead)
        session,
        audit,
        actor=by,
        action="crm_sync.retried",
        object_type="crm_sync",
        object_id=str(lead_id),
        before={"states": {s.crm: s.state for s in before}},
        after={"states": {s.crm: s.state for s in after}},
    )
    return after


async def list_syncs(
    session: AsyncSession, *, state: str | None, lead_id: uuid.UUID | None, limit: int
) -> list[CrmSyncRead]:
    rows = await CrmRepository(session).syncs(state=state, lead_id=lead_id, limit=limit)
    return [CrmSyncRead.model_validate(r) for r in rows]


@dataclass(frozen=True)
class NewHolder:
    """A lead assigned (or handed over) to a rep, as the CRM write-back needs it."""

    lead_id: uuid.UUID
    assignment_id: uuid.UUID
    rep_id: uuid.UUID
    lead: dict[str, Any]
    at: datetime


async def queue_owner_syncs(session: AsyncSession, *, holders: Sequence[NewHolder]) -> int:
    """One sync row per CRM each new holder has a user id in (at most one holder per lead:
    one statement may not upsert a row twice); returns how many were queued. A rep without a
    CRM user id is written to no CRM (the row would only ever fail)."""
    repository = CrmRepository(session)
    user_ids: dict[uuid.UUID, list[tuple[str, str]]] = {}
    for identity in await repository.identities({h.rep_id for h in holders}):
        user_ids.setdefault(identity.rep_id, []).append((identity.crm, identity.crm_user_id))
    rows = [
        {
            "lead_id": h.lead_id,
            "crm": crm,
            "assignment_id": h.assignment_id,
            "rep_id": h.rep_id,
            "crm_user_id": crm_user_id,
            "lead": h.lead,
            "state": "pending",
            "generation": 1,
            "attempts": 0,
            "next_attempt_at": h.at,
            "last_error": None,
            "record_id": None,
            "created_at": h.at,
            "updated_at": h.at,
        }
        for h in holders
        for crm, crm_user_id in user_ids.get(h.rep_id, ())
    ]
    await repository.queue_owners(rows)
    return len(rows)


@dataclass(frozen=True)
class OwnerSync:
    """One claimed sync, detached from the session for the call to the CRM."""

    lead_id: uuid.UUID
    crm: str
    generation: int
    attempts: int
    crm_user_id: str
    record_id: str | None
    lead: dict[str, Any]


async def claim_due_syncs(
    session: AsyncSession, *, crm: str, now: datetime, limit: int, lease: timedelta
) -> list[OwnerSync]:
    rows = await CrmRepository(session).claim_due(crm=crm, now=now, limit=limit, lease=lease)
    return [
        OwnerSync(r.lead_id, r.crm, r.generation, r.attempts, r.crm_user_id, r.record_id, dict(r.lead))
        for r in rows
    ]


async def record_sync(
    session: AsyncSession,
    *,
    sync: OwnerSync,
    record_id: str | None,
    error: str | None,
    retry_after_s: float | None,
    at: datetime,
    max_attempts: int,
    backoff_s: float,
) -> str:
    """Settle one attempt: `synced`, `failed` (tried again after a backoff) or `dead`. The record
    id found on the way is kept either way. Returns the new state."""
    values: dict[str, Any] = {"updated_at": at, "record_id": record_id or sync.record_id}
    if error is None:
        state = "synced"
        values |= {"state": state, "synced_at": at, "last_error": None}
    elif sync.attempts >= max_attempts:
        state = "dead"
        values |= {"state": state, "last_error": error}
    else:
        state = "failed"
        delay = webhooks.next_attempt_delay(sync.attempts, base_s=backoff_s, retry_after_s=retry_after_s)
        values |= {"state": state, "last_error": error, "next_attempt_at": at + delay}
    await CrmRepository(session).settle(
        lead_id=sync.lead_id, crm=sync.crm, generation=sync.generation, **values
    )
    return state
