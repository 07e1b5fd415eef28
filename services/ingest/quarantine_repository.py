"""The quarantine's SQL: deliveries kept whole until a replay turns them into a lead."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.models import QuarantinedDelivery


class QuarantineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, delivery: QuarantinedDelivery) -> None:
        self.session.add(delivery)
        await self.session.flush()

    async def locked(self, delivery_id: uuid.UUID) -> QuarantinedDelivery | None:
        """The delivery, locked until the transaction ends: concurrent replays of one delivery
        take turns, and the second finds it replayed."""
        statement = select(QuarantinedDelivery).where(QuarantinedDelivery.id == delivery_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def newest(self, *, pending_only: bool, limit: int) -> Sequence[QuarantinedDelivery]:
        statement = select(QuarantinedDelivery).order_by(QuarantinedDelivery.received_at.desc()).limit(limit)
        if pending_only:
            statement = statement.where(QuarantinedDelivery.replayed_at.is_(None))
        return (await self.session.scalars(statement)).all()

    async def mark_replayed(
        self, delivery_id: uuid.UUID, *, at: datetime, lead_id: uuid.UUID, event_id: uuid.UUID
    ) -> None:
        await self.session.execute(
            update(QuarantinedDelivery)
            .where(QuarantinedDelivery.id == delivery_id)
            .values(replayed_at=at, lead_id=lead_id, event_id=event_id)
            .execution_options(synchronize_session=False)
        )
