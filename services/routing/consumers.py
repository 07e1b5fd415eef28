"""Routing's Kafka handlers, keyed by event type; the shared wrapper owns the transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import batch, service
from shared.contracts import LeadErased, LeadQualified
from shared.contracts.topics import LEAD_ERASED, LEAD_QUALIFIED
from shared.kafka import BatchingHandler, EventHandler


async def on_lead_qualified(session: AsyncSession, event: LeadQualified) -> None:
    await service.assign_lead(session, event=event)


async def on_leads_qualified(session: AsyncSession, events: Sequence[LeadQualified]) -> None:
    await batch.assign_leads(session, events=events)


async def on_lead_erased(session: AsyncSession, event: LeadErased) -> None:
    await service.erase_lead(session, event=event)


HANDLERS: Mapping[str, EventHandler] = {
    LEAD_QUALIFIED: BatchingHandler(on_lead_qualified, on_leads_qualified),
    LEAD_ERASED: on_lead_erased,
}
