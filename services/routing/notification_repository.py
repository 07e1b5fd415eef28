"""Routing's SQL for notifications (the rest is in `repository.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.lease_repository import claim_due
from services.routing.models import Assignment, Notification


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_all(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            # Through the table, not the ORM's bulk path: that one compiles its statement anew for
            # each batch, which at 100 MQL/s was a tenth of routing's CPU.
            await self.session.execute(insert(cast(Table, Notification.__table__)), rows)

    async def claim_due(self, *, now: datetime, limit: int, lease: timedelta) -> Sequence[Notification]:
        return await claim_due(
            self.session,
            Notification,
            next_attempt_at=Notification.next_attempt_at,
            due=Notification.status == "pending",
            now=now,
            limit=limit,
            lease=lease,
        )

    async def mark_sent(self, notification_id: uuid.UUID, *, at: datetime) -> None:
        await self.session.execute(
            update(Notification)
            .where(Notification.id == notification_id)
            .values(status="sent", sent_at=at, last_error=None)
        )

    async def reschedule(self, notification_id: uuid.UUID, *, error: str, at: datetime) -> None:
        await self.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == "pending")
            .values(next_attempt_at=at, last_error=error)
        )

    async def mark_unsent(self, notification_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == "pending")
            .values(status="unsent")
        )

    async def mark_failed(self, notification_id: uuid.UUID, *, error: str) -> None:
        await self.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == "pending")
            .values(status="failed", last_error=error)
        )

    async def count_pending(self) -> int:
        result = await self.session.scalar(
            select(func.count()).select_from(Notification).where(Notification.status == "pending")
        )
        return int(result or 0)

    async def for_assignment(self, assignment_id: uuid.UUID) -> Sequence[Notification]:
        result = await self.session.execute(
            select(Notification)
            .where(Notification.assignment_id == assignment_id)
            .order_by(Notification.created_at, Notification.kind)
        )
        return result.scalars().all()

    async def erase_lead(self, lead_id: uuid.UUID) -> None:
        """Erasure of the team's notices (SLA reminders, breaches, escalations quote the lead's
        company and title): their text goes, and one not sent yet never goes. A rep's own
        notices are anonymized by `ErasureRepository.erase_lead` and still go out."""
        about = (Notification.channel == "team") & (
            (Notification.lead_id == lead_id)
            | Notification.assignment_id.in_(select(Assignment.id).where(Assignment.lead_id == lead_id))
        )
        await self.session.execute(
            update(Notification)
            .where(about, Notification.status == "pending")
            .values(status="failed", last_error="lead erased before the notice")
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(Notification)
            .where(about)
            .values(message={"erased": True})
            .execution_options(synchronize_session=False)
        )

    async def prune(self, *, before: datetime) -> int:
        """Drop settled notifications (sent, unsent, failed) created before `before`."""
        result = await self.session.execute(
            delete(Notification)
            .where(Notification.status != "pending", Notification.created_at < before)
            .returning(Notification.id)
        )
        return len(result.all())
