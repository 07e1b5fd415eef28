"""The drift proposals' SQL (`agreement_drift`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import AgreementDrift


class DriftRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open_proposal(self) -> AgreementDrift | None:
        """The open proposal, locked until the checking transaction ends."""
        statement = select(AgreementDrift).where(AgreementDrift.status == "open").with_for_update()
        return await self.session.scalar(statement)

    async def add(self, proposal: AgreementDrift) -> None:
        self.session.add(proposal)
        await self.session.flush()

    async def latest(self, *, limit: int) -> list[AgreementDrift]:
        """Open first, then the most recently detected."""
        statement = (
            select(AgreementDrift)
            .order_by((AgreementDrift.status == "open").desc(), AgreementDrift.detected_at.desc())
            .limit(limit)
        )
        return list(await self.session.scalars(statement))
