"""The SQL behind the revenue reports: each lead's touchpoints and its won amount."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.attribution import Touch, WonDeal
from services.feedback.models import LeadFact, LeadTouchpoint
from services.feedback.money import Fx
from services.feedback.repository import FactFilter, _conditions
from services.feedback.write_buffer import write

_TOUCH_COLUMNS = ("lead_id", "touch_key", "occurred_at", "kind", "source", "medium", "campaign", "ad", "utm")
# Built once: `insert().values(...)` per call recomputed the statement's cache key every time.
_RECORD_TOUCH = (
    insert(cast(Table, LeadTouchpoint.__table__))
    .values({name: bindparam(name) for name in _TOUCH_COLUMNS})
    .on_conflict_do_nothing()
)


@dataclass(frozen=True)
class WonRevenue:
    deals: int = 0
    deals_with_amount: int = 0
    revenue: Decimal = Decimal(0)
    rates_used: dict[str, Decimal] = field(default_factory=dict)


class RevenueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record_touch(self, lead_id: uuid.UUID, touch: Touch) -> None:
        """Store the touch once, however often and in whatever order it is delivered."""
        params = {
            "lead_id": lead_id,
            "touch_key": touch.key,
            "occurred_at": touch.occurred_at,
            "kind": touch.kind,
            "source": touch.source,
            "medium": touch.medium,
            "campaign": touch.campaign,
            "ad": touch.ad,
            "utm": dict(touch.utm),
        }
        await write(self.session, _RECORD_TOUCH, params)

    async def touches(self, lead_id: uuid.UUID) -> list[Touch]:
        """A lead's touches, oldest first."""
        statement = (
            select(LeadTouchpoint)
            .where(LeadTouchpoint.lead_id == lead_id)
            .order_by(LeadTouchpoint.occurred_at, LeadTouchpoint.touch_key)
        )
        return [_touch(row) for row in (await self.session.scalars(statement)).all()]

    async def won_deals(self, where: FactFilter) -> list[WonDeal]:
        """Every won lead the filter covers, with its amount (none recorded counts as 0) and touches."""
        won = (
            select(LeadFact.lead_id, LeadFact.won_at, LeadFact.amount, LeadFact.currency)
            .where(*_conditions(where), LeadFact.won_at.is_not(None))
            .order_by(LeadFact.lead_id)
        )
        deals = (await self.session.execute(won)).all()
        if not deals:
            return []
        touches: dict[uuid.UUID, list[Touch]] = {}
        # A join, not an IN list of lead ids: a year of wins would pass the driver's parameter limit.
        statement = (
            select(LeadTouchpoint)
            .join(LeadFact, LeadFact.lead_id == LeadTouchpoint.lead_id)
            .where(*_conditions(where), LeadFact.won_at.is_not(None))
        )
        for row in (await self.session.scalars(statement)).all():
            touches.setdefault(row.lead_id, []).append(_touch(row))
        return [
            WonDeal(
                won_at=d.won_at,
                amount=d.amount or Decimal(0),
                touches=tuple(touches.get(d.lead_id, ())),
                currency=d.currency,
            )
            for d in deals
        ]

    async def won_revenue(self, where: FactFilter, *, fx: Fx) -> WonRevenue:
        """Won deals, those with an amount, and the sum of their amounts in `fx`'s reporting
        currency: summed per currency, then each sum converted (never added as they stand)."""
        statement = (
            select(
                LeadFact.currency,
                func.count(),
                func.count(LeadFact.amount),
                func.coalesce(func.sum(LeadFact.amount), 0),
            )
            .where(*_conditions(where), LeadFact.won_at.is_not(None))
            .group_by(LeadFact.currency)
        )
        rows = (await self.session.execute(statement)).all()
        priced = [row for row in rows if row[2]]
        return WonRevenue(
            deals=sum(int(row[1]) for row in rows),
            deals_with_amount=sum(int(row[2]) for row in rows),
            revenue=sum((fx.convert(Decimal(row[3] or 0), row[0]) for row in priced), Decimal(0)),
            rates_used=fx.used(row[0] for row in priced),
        )


def _touch(row: LeadTouchpoint) -> Touch:
    return Touch(
        occurred_at=row.occurred_at,
        kind=row.kind,
        source=row.source,
        medium=row.medium,
        campaign=row.campaign,
        ad=row.ad,
        utm=dict(row.utm),
    )
