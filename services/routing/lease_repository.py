"""Claiming rows that are due to be sent, under a lease: the one statement the rep notifier, the
webhook sender and the CRM sync share (`shared.workers.LeasedSendWorker` runs their loops)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


async def claim_due(
    session: AsyncSession,
    model: type[DeclarativeBase],
    *,
    due: ColumnElement[bool],
    now: datetime,
    limit: int,
    lease: timedelta,
) -> Sequence[Row[Any]]:
    """Lock up to `limit` rows matching `due` whose time has come and push them `lease` ahead,
    counting the attempt: a replica that dies mid-send leaves them to be retried once the lease
    runs out, never lost, and two replicas never send one row at once.

    One statement, answering plain rows: the senders claim several times a second, and loading
    ORM objects to change two columns each cost them a statement per row and an identity map."""
    table = cast(Table, model.__table__)
    key = list(table.primary_key.columns)
    chosen = (
        select(*key)
        .where(due, table.c.next_attempt_at <= now)
        .order_by(table.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("chosen")
    )
    result = await session.execute(
        update(table)
        .where(and_(*(column == chosen.c[column.name] for column in key)))
        .values(attempts=table.c.attempts + 1, next_attempt_at=now + lease)
        .returning(*table.c)
    )
    return result.all()
