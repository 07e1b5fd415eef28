"""Routing's SQL for notifications (the rest is in `repository.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import Row, Table, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.lease_repository import claim_due
from services.routing.models import Assignment, Notification

# A send round's outcomes in one statement over `unnest(arrays)`, one text for any batch size.
# `sent` lands whatever the row became meanwhile (it went out); the rest only on a row still
# pending (an erasure may have given it up). `unsent` keeps the row's last error.
_SETTLE = text(
    "UPDATE routing.notification AS n SET status = v.status, "
    "sent_at = coalesce(v.sent_at, n.sent_at), "
    "last_error = CASE WHEN v.status = 'unsent' THEN n.last_error ELSE v.last_error END, "
    "next_attempt_at = coalesce(v.next_attempt_at, n.next_attempt_at) "
    "FROM unnest(CAST(:id AS uuid[]), CAST(:status AS varchar[]), CAST(:sent_at AS timestamptz[]), "
    "CAST(:last_error AS text[]), CAST(:next_attempt_at AS timestamptz[])) "
    "AS v(id, status, sent_at, last_error, next_attempt_at) "
    "WHERE n.id = v.id AND (v.status = 'sent' OR n.status = 'pending')"
)


class Settlement(NamedTuple):
    """A delivery's outcome as stored: `status` pending with `next_attempt_at` is a retry."""

    id: uuid.UUID
    status: str
    sent_at: datetime | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_all(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            # Through the table, not the ORM's bulk path: that one compiles its statement anew for
            # each batch, which at 100 MQL/s was a tenth of routing's CPU.
            await self.session.execute(insert(cast(Table, Notification.__table__)), rows)

    async def claim_due(self, *, now: datetime, limit: int, lease: timedelta) -> Sequence[Row[Any]]:
        return await claim_due(
            self.session,
            Notification,
            due=Notification.status == "pending",
            now=now,
            limit=limit,
            lease=lease,
        )

    async def settle(self, settlements: Sequence[Settlement]) -> None:
        if settlements:
            columns = zip(*settlements, strict=True)
            await self.session.execute(
                _SETTLE, dict(zip(Settlement._fields, map(list, columns), strict=True))
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
