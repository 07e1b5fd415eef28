"""Routing's SQL for reps, their absences and ledger, assignments, dispositions, erasure and the
fallback queue (the SLA timers and holidays: `sla_repository.py`)."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.models import (
    Assignment,
    Disposition,
    Notification,
    Rep,
    RepAbsence,
    RepLedger,
    Touch,
    UnassignedLead,
)

# Every assignment holds this lock shared; whatever changes who is in the rotation or drains the
# fallback queue holds it exclusively, so a lead queued for want of a rep cannot miss the drain.
POOL_LOCK_KEY = zlib.crc32(b"baton-routing-pool:default")


class RepRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_unless_email_taken(self, **values: Any) -> Rep | None:
        statement = (
            insert(Rep).values(**values).on_conflict_do_nothing(index_elements=[Rep.email]).returning(Rep.id)
        )
        rep_id = (await self.session.execute(statement)).scalar_one_or_none()
        return None if rep_id is None else await self.session.get(Rep, rep_id)

    async def get(self, rep_id: uuid.UUID) -> Rep | None:
        return await self.session.get(Rep, rep_id)

    async def by_email(self, email: str) -> Rep | None:
        """The rep with this email, compared case-insensitively (providers and people differ in case)."""
        result = await self.session.execute(select(Rep).where(func.lower(Rep.email) == email.lower()))
        return result.scalars().first()

    async def lock(self, rep_id: uuid.UUID) -> Rep | None:
        return await self.session.get(Rep, rep_id, with_for_update=True)

    async def by_ids(self, rep_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Rep]:
        result = await self.session.execute(select(Rep).where(Rep.id.in_(rep_ids)))
        return {rep.id: rep for rep in result.scalars().all()}

    async def all_with_assigned(self) -> Sequence[tuple[Rep, int]]:
        """Every rep with the leads credited to them across every pool."""
        assigned = (
            select(RepLedger.rep_id, func.sum(RepLedger.assigned).label("assigned"))
            .group_by(RepLedger.rep_id)
            .subquery()
        )
        result = await self.session.execute(
            select(Rep, func.coalesce(assigned.c.assigned, 0))
            .outerjoin(assigned, assigned.c.rep_id == Rep.id)
            .order_by(Rep.name, Rep.id)
        )
        return [(rep, int(count)) for rep, count in result.all()]

    async def all(self) -> Sequence[Rep]:
        return (await self.session.execute(select(Rep).order_by(Rep.id))).scalars().all()

    async def lock_candidates(self, rep_ids: Sequence[uuid.UUID] | None) -> Sequence[Rep]:
        """The reps a decision may choose from (all when `rep_ids` is None), locked in id order.

        A rep in two pools is locked by deciders in either, so caps hold across pools, and the
        id order means two replicas never deadlock. NO KEY UPDATE leaves foreign-key checks
        (absences, day counts) unblocked.
        """
        statement = select(Rep).order_by(Rep.id).with_for_update(key_share=True)
        if rep_ids is not None:
            statement = statement.where(Rep.id.in_(rep_ids))
        result = await self.session.execute(statement.execution_options(populate_existing=True))
        return result.scalars().all()

    async def candidates(self, rep_ids: Sequence[uuid.UUID] | None) -> Sequence[Rep]:
        statement = select(Rep).order_by(Rep.id)
        if rep_ids is not None:
            statement = statement.where(Rep.id.in_(rep_ids))
        return (await self.session.execute(statement)).scalars().all()

    async def ids_by_email(self, emails: Sequence[str]) -> dict[str, uuid.UUID]:
        result = await self.session.execute(select(Rep.email, Rep.id).where(Rep.email.in_(emails)))
        return {str(email): rep_id for email, rep_id in result.all()}

    async def existing_ids(self, rep_ids: Sequence[uuid.UUID]) -> frozenset[uuid.UUID]:
        result = await self.session.execute(select(Rep.id).where(Rep.id.in_(rep_ids)))
        return frozenset(result.scalars().all())


class AbsenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, absence: RepAbsence) -> None:
        self.session.add(absence)
        await self.session.flush()

    async def for_rep(self, rep_id: uuid.UUID) -> Sequence[RepAbsence]:
        result = await self.session.execute(
            select(RepAbsence).where(RepAbsence.rep_id == rep_id).order_by(RepAbsence.starts_at)
        )
        return result.scalars().all()

    async def remove(self, *, rep_id: uuid.UUID, absence_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(RepAbsence)
            .where(RepAbsence.id == absence_id, RepAbsence.rep_id == rep_id)
            .returning(RepAbsence.id)
        )
        return result.scalar_one_or_none() is not None

    async def overlapping(
        self, since: datetime, until: datetime
    ) -> dict[uuid.UUID, list[tuple[datetime, datetime]]]:
        """Each rep's absences that cover some instant in [since, until], as (start, end)."""
        result = await self.session.execute(
            select(RepAbsence.rep_id, RepAbsence.starts_at, RepAbsence.ends_at).where(
                RepAbsence.starts_at <= until, RepAbsence.ends_at > since
            )
        )
        ranges: dict[uuid.UUID, list[tuple[datetime, datetime]]] = {}
        for rep_id, starts_at, ends_at in result.all():
            ranges.setdefault(rep_id, []).append((starts_at, ends_at))
        return ranges


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enter_pool(self, *, exclusive: bool) -> None:
        lock = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
        await self.session.execute(select(lock(POOL_LOCK_KEY)))

    async def lines(
        self, pool: str, rep_ids: Sequence[uuid.UUID], *, create: bool
    ) -> tuple[dict[uuid.UUID, RepLedger], frozenset[uuid.UUID]]:
        """The pool's ledger lines of these reps, and which of them are new to the pool. With
        `create` the new lines are stored (empty, to be opened by `open_line`); without, they
        are stand-ins that are never written (a preview)."""
        statement = select(RepLedger).where(RepLedger.pool == pool, RepLedger.rep_id.in_(rep_ids))
        result = await self.session.execute(statement.execution_options(populate_existing=True))
        lines = {line.rep_id: line for line in result.scalars().all()}
        missing = [r for r in rep_ids if r not in lines]
        if not missing:
            return lines, frozenset()
        if not create:
            lines.update({r: RepLedger(pool=pool, rep_id=r, assigned=0, credit=0.0) for r in missing})
            return lines, frozenset(missing)
        inserted = await self.session.execute(
            insert(RepLedger)
            .values([{"pool": pool, "rep_id": r, "assigned": 0, "credit": 0.0} for r in missing])
            .on_conflict_do_nothing(index_elements=[RepLedger.pool, RepLedger.rep_id])
            .returning(RepLedger.rep_id)
        )
        fresh = frozenset(inserted.scalars().all())
        result = await self.session.execute(statement.where(RepLedger.rep_id.in_(missing)))
        lines.update({line.rep_id: line for line in result.scalars().all()})
        return lines, fresh

    async def open_line(self, pool: str, rep_id: uuid.UUID, *, credit: float, weight: int) -> None:
        await self.session.execute(
            update(RepLedger)
            .where(RepLedger.pool == pool, RepLedger.rep_id == rep_id)
            .values(credit=credit, weight=weight)
            .execution_options(synchronize_session=False)
        )

    async def assigned_to(self, rep_id: uuid.UUID) -> int:
        total = await self.session.scalar(
            select(func.coalesce(func.sum(RepLedger.assigned), 0)).where(RepLedger.rep_id == rep_id)
        )
        return int(total or 0)

    async def credit_assignment(
        self,
        rep_id: uuid.UUID,
        *,
        pool: str,
        credit: float,
        weight: int,
        at: datetime,
        share_when_picked: float,
    ) -> None:
        await self.session.execute(
            update(RepLedger)
            .where(RepLedger.pool == pool, RepLedger.rep_id == rep_id)
            .values(
                credit=credit,
                weight=weight,
                assigned=RepLedger.assigned + 1,
                last_assigned_at=at,
                last_share=share_when_picked,
            )
        )


class AssignmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_lead(self, lead_id: uuid.UUID) -> Assignment | None:
        result = await self.session.execute(select(Assignment).where(Assignment.lead_id == lead_id))
        return result.scalar_one_or_none()

    async def by_leads(self, lead_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Assignment]:
        if not lead_ids:
            return {}
        result = await self.session.execute(select(Assignment).where(Assignment.lead_id.in_(lead_ids)))
        return {assignment.lead_id: assignment for assignment in result.scalars().all()}

    async def lock(self, assignment_id: uuid.UUID) -> Assignment | None:
        return await self.session.get(Assignment, assignment_id, with_for_update=True)

    async def by_id(self, assignment_id: uuid.UUID) -> Assignment | None:
        return await self.session.get(Assignment, assignment_id)

    async def by_ids(self, assignment_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Assignment]:
        result = await self.session.execute(select(Assignment).where(Assignment.id.in_(assignment_ids)))
        return {assignment.id: assignment for assignment in result.scalars().all()}

    async def add_unless_lead_assigned(self, **values: Any) -> bool:
        """Insert the assignment; False when the lead already has one (the unique lead_id)."""
        statement = (
            insert(Assignment)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[Assignment.lead_id])
            .returning(Assignment.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def for_rep(self, rep_id: uuid.UUID, *, statuses: Sequence[str]) -> Sequence[Assignment]:
        result = await self.session.execute(
            select(Assignment)
            .where(Assignment.rep_id == rep_id, Assignment.status.in_(statuses))
            .order_by(Assignment.sla_due_at, Assignment.id)
        )
        return result.scalars().all()

    async def for_team(
        self, manager_id: uuid.UUID | None, *, statuses: Sequence[str]
    ) -> Sequence[Assignment]:
        """The assignments in `statuses` of the reps `manager_id` manages (every rep's when None),
        most urgent SLA first."""
        statement = select(Assignment).where(Assignment.status.in_(statuses))
        if manager_id is not None:
            team = select(Rep.id).where(Rep.manager_id == manager_id)
            statement = statement.where(Assignment.rep_id.in_(team))
        result = await self.session.execute(statement.order_by(Assignment.sla_due_at, Assignment.id))
        return result.scalars().all()

    async def open_counts(self, rep_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
        """Open assignments of these reps (by the rep_id index: not a scan of every assignment)."""
        if not rep_ids:
            return {}
        result = await self.session.execute(
            select(Assignment.rep_id, func.count())
            .where(Assignment.rep_id.in_(rep_ids), Assignment.status == "open")
            .group_by(Assignment.rep_id)
        )
        return dict(result.all())

    async def record_outcome(
        self, assignment: Assignment, *, status: str, first_touch_at: datetime | None
    ) -> None:
        assignment.status = status
        if assignment.first_touch_at is None:
            assignment.first_touch_at = first_touch_at
        await self.session.flush()


class DispositionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Disposition | Touch) -> None:
        self.session.add(row)
        await self.session.flush()


class ErasureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def erase_lead(self, lead_id: uuid.UUID) -> None:
        """Drop the lead's identity from assignments and the fallback queue; keep the routing
        facts (rep, times, outcome) that fairness and SLA reports count."""
        erased = {"erased": True}
        await self.session.execute(
            update(Assignment)
            .where(Assignment.lead_id == lead_id)
            .values(lead=erased)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(UnassignedLead)
            .where(UnassignedLead.lead_id == lead_id)
            .values(event=erased)
            .execution_options(synchronize_session=False)
        )
        # A rep's notes may quote the person (a name, a phone number): the outcomes and their
        # reason codes stay for the reports, the free text goes.
        held = select(Assignment.id).where(Assignment.lead_id == lead_id).scalar_subquery()
        await self.session.execute(
            update(Touch)
            .where(Touch.assignment_id.in_(held), Touch.note.is_not(None))
            .values(note=None)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(Disposition)
            .where(Disposition.assignment_id.in_(held))
            .values(note=None, reason=Disposition.reason_code)
            .execution_options(synchronize_session=False)
        )
        # A rep's notice names the lead; one not yet sent goes out as "a lead".
        anonymous = {"lead": {"id": str(lead_id), "name": None, "company": None, "title": None}}
        await self.session.execute(
            update(Notification)
            .where(Notification.lead_id == lead_id, Notification.channel != "team")
            .values(message=Notification.message.op("||")(bindparam("anonymous", anonymous, type_=JSONB)))
            .execution_options(synchronize_session=False)
        )


class FallbackQueueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enqueue(
        self,
        *,
        lead_id: uuid.UUID,
        event: dict[str, Any],
        pool: str,
        reason: str,
        decision: dict[str, Any],
        at: datetime,
    ) -> bool:
        statement = (
            insert(UnassignedLead)
            .values(lead_id=lead_id, event=event, pool=pool, reason=reason, decision=decision, queued_at=at)
            .on_conflict_do_nothing(index_elements=[UnassignedLead.lead_id])
            .returning(UnassignedLead.lead_id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def claim_oldest(self, *, limit: int) -> Sequence[UnassignedLead]:
        result = await self.session.execute(
            select(UnassignedLead)
            .order_by(UnassignedLead.queued_at, UnassignedLead.lead_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return result.scalars().all()

    async def contains(self, lead_id: uuid.UUID) -> bool:
        return await self.session.get(UnassignedLead, lead_id) is not None

    async def remove(self, lead_id: uuid.UUID) -> None:
        await self.session.execute(delete(UnassignedLead).where(UnassignedLead.lead_id == lead_id))

    async def size(self) -> int:
        return (await self.session.execute(select(func.count()).select_from(UnassignedLead))).scalar_one()
