"""The scorecards' reads: the agreement in force and the period's leads, as the pure
`scorecards` module takes them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.feedback.models import Agreement, LeadAttempt, LeadFact
from services.feedback.scorecards import MarketingLead, SalesLead
from shared.contracts import AgreementTerms


class ScorecardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def agreement_in_force(self) -> tuple[str, AgreementTerms] | None:
        """The latest activated agreement's version and terms."""
        row = await self.session.scalar(select(Agreement).order_by(Agreement.activated_at.desc()).limit(1))
        return None if row is None else (row.rubric_version, AgreementTerms.model_validate(row.terms))

    async def mqls(self, start: date, end: date) -> list[MarketingLead]:
        """Leads first qualified within [start, end] (UTC days); a later stage implies acceptance."""
        accepted = or_(
            LeadFact.accepted_at.is_not(None),
            LeadFact.sql_at.is_not(None),
            LeadFact.won_at.is_not(None),
            LeadFact.lost_at.is_not(None),
        )
        rows = await self.session.execute(
            select(LeadFact.mql_at, accepted, LeadFact.rejected_at.is_not(None)).where(
                LeadFact.is_test.is_(False), *_between(LeadFact.mql_at, start, end)
            )
        )
        return [
            MarketingLead(mql_at=r[0], accepted=bool(r[1]), rejected=bool(r[2]))
            for r in rows
            if r[0] is not None
        ]

    async def assignments(self, start: date, end: date) -> list[SalesLead]:
        """Leads assigned within [start, end] (UTC days), with sales' moments for each."""
        # LEAST ignores NULLs: the first of acceptance and rejection, whichever happened.
        decided = func.least(LeadFact.accepted_at, LeadFact.rejected_at)
        attempts = (
            select(func.count())
            .where(LeadAttempt.lead_id == LeadFact.lead_id)
            .correlate(LeadFact)
            .scalar_subquery()
        )
        rows = await self.session.execute(
            select(
                LeadFact.sla_tier,
                LeadFact.assigned_at,
                decided,
                LeadFact.first_contact_at,
                attempts,
                or_(LeadFact.rejected_at.is_not(None), LeadFact.recycled_at.is_not(None)),
            ).where(LeadFact.is_test.is_(False), *_between(LeadFact.assigned_at, start, end))
        )
        return [
            SalesLead(
                tier=r[0],
                assigned_at=r[1],
                decided_at=r[2],
                first_contact_at=r[3],
                attempts=r[4],
                dropped=bool(r[5]),
            )
            for r in rows
        ]


def _between(
    column: InstrumentedAttribute[datetime | None], start: date, end: date
) -> list[ColumnElement[bool]]:
    first = datetime.combine(start, time(), tzinfo=UTC)
    after = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)
    return [column >= first, column < after]
