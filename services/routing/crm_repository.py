"""Routing's SQL for the CRM owner write-back, and the assignment facts outbound messages need."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.lease_repository import claim_due
from services.routing.models import Assignment
from services.routing.outbound_models import CrmSync, RepCrmIdentity


@dataclass(frozen=True)
class AssignmentFacts:
    """What outbound messages add to an event: the lead as routing saw it, and its pool."""

    lead: dict[str, Any]
    pool: str | None


ERASED: dict[str, Any] = {"erased": True}


class CrmRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def assignment_facts(
        self, assignment_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, AssignmentFacts]:
        if not assignment_ids:
            return {}
        rows = await self.session.execute(
            select(Assignment.id, Assignment.lead, Assignment.decision).where(
                Assignment.id.in_(assignment_ids)
            )
        )
        facts = {}
        for assignment_id, lead, decision in rows.all():
            pool = decision.get("pool") if isinstance(decision, dict) else None
            facts[assignment_id] = AssignmentFacts(
                lead=dict(lead), pool=pool if isinstance(pool, str) else None
            )
        return facts

    async def put_identity(self, *, rep_id: uuid.UUID, crm: str, crm_user_id: str, at: datetime) -> None:
        statement = insert(RepCrmIdentity).values(
            rep_id=rep_id, crm=crm, crm_user_id=crm_user_id, updated_at=at
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["rep_id", "crm"], set_={"crm_user_id": crm_user_id, "updated_at": at}
            )
        )

    async def identities(self, rep_ids: Collection[uuid.UUID] | None = None) -> Sequence[RepCrmIdentity]:
        statement = select(RepCrmIdentity).order_by(RepCrmIdentity.rep_id, RepCrmIdentity.crm)
        if rep_ids is not None:
            statement = statement.where(RepCrmIdentity.rep_id.in_(rep_ids))
        return (await self.session.execute(statement)).scalars().all()

    async def queue_owners(self, rows: list[dict[str, Any]]) -> None:
        """Ask for each lead's owner in a CRM to be the row's `crm_user_id` (at most one row per
        lead and CRM). A new holder restarts the sync (a new generation, attempts from zero) and
        keeps the record id already found; the same holder again (a redelivered fact) changes
        nothing."""
        if not rows:
            return
        statement = insert(CrmSync)
        changed = CrmSync.crm_user_id.is_distinct_from(statement.excluded.crm_user_id) | (
            CrmSync.assignment_id != statement.excluded.assignment_id
        )
        restarted = ("assignment_id", "rep_id", "crm_user_id", "lead", "state", "attempts", "next_attempt_at")
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["lead_id", "crm"],
                set_={
                    **{column: statement.excluded[column] for column in restarted},
                    "generation": CrmSync.generation + 1,
                    "last_error": None,
                    "updated_at": statement.excluded.updated_at,
                },
                where=changed,
            ),
            rows,
        )

    async def claim_due(self, *, crm: str, now: datetime, limit: int, lease: timedelta) -> Sequence[Row[Any]]:
        return await claim_due(
            self.session,
            CrmSync,
            due=(CrmSync.crm == crm) & CrmSync.state.in_(("pending", "failed")),
            now=now,
            limit=limit,
            lease=lease,
        )

    async def settle(self, *, lead_id: uuid.UUID, crm: str, generation: int, **values: Any) -> None:
        """Record an attempt's outcome, unless the lead changed hands meanwhile (then the new
        generation's own attempt decides)."""
        await self.session.execute(
            update(CrmSync)
            .where(CrmSync.lead_id == lead_id, CrmSync.crm == crm, CrmSync.generation == generation)
            .values(**values)
        )

    async def erase_lead(self, lead_id: uuid.UUID, *, at: datetime) -> None:
        """Drop the lead's identity; a sync not yet done is given up (the person is not to be
        written anywhere any more)."""
        await self.session.execute(
            update(CrmSync)
            .where(CrmSync.lead_id == lead_id, CrmSync.state.in_(("pending", "failed")))
            .values(state="dead", last_error="lead erased before the sync", updated_at=at)
        )
        await self.session.execute(update(CrmSync).where(CrmSync.lead_id == lead_id).values(lead=ERASED))

    async def restart(self, *, lead_id: uuid.UUID, crm: str | None, at: datetime) -> int:
        """Try failed or dead syncs of a lead again from a fresh budget (a new generation, so an
        attempt still in flight cannot settle them)."""
        statement = update(CrmSync).where(
            CrmSync.lead_id == lead_id, CrmSync.state.in_(("failed", "dead")), CrmSync.lead != ERASED
        )
        if crm is not None:
            statement = statement.where(CrmSync.crm == crm)
        result = await self.session.execute(
            statement.values(
                state="pending",
                attempts=0,
                next_attempt_at=at,
                generation=CrmSync.generation + 1,
                updated_at=at,
            ).returning(CrmSync.lead_id)
        )
        return len(result.all())

    async def syncs(self, *, state: str | None, lead_id: uuid.UUID | None, limit: int) -> Sequence[CrmSync]:
        statement = select(CrmSync)
        if state is not None:
            statement = statement.where(CrmSync.state == state)
        if lead_id is not None:
            statement = statement.where(CrmSync.lead_id == lead_id)
        result = await self.session.execute(statement.order_by(CrmSync.updated_at.desc()).limit(limit))
        return result.scalars().all()

    async def count_by_state(self) -> dict[str, int]:
        result = await self.session.execute(select(CrmSync.state, func.count()).group_by(CrmSync.state))
        return {state: int(n) for state, n in result.all()}
