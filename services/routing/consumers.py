"""Routing's Kafka handlers: parse the event, call one use case.

The shared `EventConsumer` owns the transaction and the idempotency record; handlers hold only
the call. They are built by a factory so the active rules, created once at start-up, are
closed over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import assignment, batch, service
from services.routing.rule_versions import ActiveRules
from shared.contracts import LeadErased, LeadQualified
from shared.contracts.topics import LEAD_ERASED, LEAD_QUALIFIED
from shared.kafka import BatchingHandler, EventHandler


def build_handlers(rules: ActiveRules) -> Mapping[str, EventHandler]:
    async def on_lead_qualified(session: AsyncSession, event: LeadQualified) -> None:
        await assignment.assign_lead(session, rules=rules, event=event)

    async def on_leads_qualified(session: AsyncSession, events: Sequence[LeadQualified]) -> None:
        await batch.assign_leads(session, rules=rules, events=events)

    async def on_lead_erased(session: AsyncSession, event: LeadErased) -> None:
        await service.erase_lead(session, event=event)

    return {
        LEAD_QUALIFIED: BatchingHandler(on_lead_qualified, on_leads_qualified),
        LEAD_ERASED: on_lead_erased,
    }
