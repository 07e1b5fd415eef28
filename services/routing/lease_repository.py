"""Claiming rows that are due to be sent, under a lease: the one statement the rep notifier, the
webhook sender and the CRM sync share (`shared.workers.LeasedSendWorker` runs their loops)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute


class LeasedRow(Protocol):
    attempts: int
    next_attempt_at: datetime


Row = TypeVar("Row", bound=LeasedRow)


async def claim_due(
    session: AsyncSession,
    model: type[Row],
    *,
    next_attempt_at: InstrumentedAttribute[datetime],
    due: ColumnElement[bool],
    now: datetime,
    limit: int,
    lease: timedelta,
) -> Sequence[Row]:
    """Lock up to `limit` rows matching `due` whose time has come and push them `lease` ahead,
    counting the attempt: a replica that dies mid-send leaves them to be retried once the lease
    runs out, never lost, and two replicas never send one row at once."""
    result = await session.execute(
        select(model)
        .where(due, next_attempt_at <= now)
        .order_by(next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows: Sequence[Row] = result.scalars().all()
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + lease
    await session.flush()
    return rows
