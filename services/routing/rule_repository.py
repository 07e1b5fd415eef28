"""Routing's SQL for rule set versions and daily caps (kept apart from repository.py by size)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.models import RepDayCount, RuleSetRecord


class DayCountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def since(self, day: date) -> dict[tuple[uuid.UUID, date], int]:
        result = await self.session.execute(
            select(RepDayCount.rep_id, RepDayCount.day, RepDayCount.assigned).where(RepDayCount.day >= day)
        )
        return {(rep_id, d): n for rep_id, d, n in result.all()}

    async def count_one(self, rep_id: uuid.UUID, day: date) -> None:
        statement = insert(RepDayCount).values(rep_id=rep_id, day=day, assigned=1)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[RepDayCount.rep_id, RepDayCount.day],
                set_={"assigned": RepDayCount.assigned + 1},
            )
        )


class RuleSetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, record: RuleSetRecord) -> bool:
        """Store a new version; False when the version exists (versions are never reused)."""
        statement = (
            insert(RuleSetRecord)
            .values(
                version=record.version,
                status=record.status,
                document=record.document,
                created_by=record.created_by,
                created_at=record.created_at,
            )
            .on_conflict_do_nothing(index_elements=[RuleSetRecord.version])
            .returning(RuleSetRecord.version)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def get(self, version: str, *, lock: bool = False) -> RuleSetRecord | None:
        return await self.session.get(RuleSetRecord, version, with_for_update=lock)

    async def all(self) -> Sequence[RuleSetRecord]:
        result = await self.session.execute(select(RuleSetRecord).order_by(RuleSetRecord.created_at.desc()))
        return result.scalars().all()

    async def active_version(self) -> str | None:
        result = await self.session.execute(
            select(RuleSetRecord.version).where(RuleSetRecord.status == "active")
        )
        return result.scalar_one_or_none()

    async def retire_active(self) -> str | None:
        result = await self.session.execute(
            update(RuleSetRecord)
            .where(RuleSetRecord.status == "active")
            .values(status="retired")
            .returning(RuleSetRecord.version)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none()
