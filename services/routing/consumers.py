"""Routing's Kafka handlers, keyed by event type; the shared wrapper owns the transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import batch, outbound, service
from shared.contracts import LeadErased, LeadQualified
from shared.contracts.topics import (
    LEAD_ASSIGNED,
    LEAD_DISPOSITIONED,
    LEAD_ERASED,
    LEAD_QUALIFIED,
    LEAD_TOUCHED,
    SLA_BREACHED,
)
from shared.kafka import BatchingHandler, EventHandler


async def on_lead_qualified(session: AsyncSession, event: LeadQualified) -> None:
    await service.assign_lead(session, event=event)


async def on_leads_qualified(session: AsyncSession, events: Sequence[LeadQualified]) -> None:
    await batch.assign_leads(session, events=events)


async def on_lead_erased(session: AsyncSession, event: LeadErased) -> None:
    await service.erase_lead(session, event=event)


async def on_outbound_event(session: AsyncSession, event: outbound.OutboundEvent) -> None:
    await outbound.send_event_out(session, event=event)


async def on_outbound_events(session: AsyncSession, events: Sequence[outbound.OutboundEvent]) -> None:
    await outbound.send_events_out(session, events=events)


HANDLERS: Mapping[str, EventHandler] = {
    LEAD_QUALIFIED: BatchingHandler(on_lead_qualified, on_leads_qualified),
    LEAD_ERASED: on_lead_erased,
    # Routing's own events, read back to queue webhook deliveries and CRM syncs: apart from the
    # assignment's transaction, so an outbound failure can never undo or delay an assignment.
    **dict.fromkeys(
        (LEAD_ASSIGNED, LEAD_TOUCHED, LEAD_DISPOSITIONED, SLA_BREACHED),
        BatchingHandler(on_outbound_event, on_outbound_events),
    ),
}
