"""Feedback's Kafka handlers: each folds one event into the lead's fact row.

The shared consumer wrapper owns the transaction, the dedup and the offsets; a handler only
calls its use case. Every handler also takes a partition's batch at once (`record_batch`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import agreement, service
from shared.contracts import (
    ActivityRecorded,
    LeadAssigned,
    LeadDispositioned,
    LeadErased,
    LeadIngested,
    LeadQualified,
    LeadScored,
    LeadTouched,
    RubricActivated,
)
from shared.contracts.topics import (
    ACTIVITY_RECORDED,
    LEAD_ASSIGNED,
    LEAD_DISPOSITIONED,
    LEAD_ERASED,
    LEAD_INGESTED,
    LEAD_QUALIFIED,
    LEAD_SCORED,
    LEAD_TOUCHED,
    RUBRIC_ACTIVATED,
)
from shared.kafka import BatchingHandler, EventHandler


def build_handlers() -> Mapping[str, EventHandler]:
    """Feedback's handlers by topic; each also takes a partition's batch at once."""

    async def on_lead_ingested(session: AsyncSession, event: LeadIngested) -> None:
        await service.record_ingested(session, event)

    async def on_activity_recorded(session: AsyncSession, event: ActivityRecorded) -> None:
        await service.record_activity(session, event)

    async def on_lead_scored(session: AsyncSession, event: LeadScored) -> None:
        await service.record_scored(session, event)

    async def on_lead_qualified(session: AsyncSession, event: LeadQualified) -> None:
        await service.record_qualified(session, event)

    async def on_lead_assigned(session: AsyncSession, event: LeadAssigned) -> None:
        await service.record_assigned(session, event)

    async def on_lead_touched(session: AsyncSession, event: LeadTouched) -> None:
        await service.record_touched(session, event)

    async def on_lead_dispositioned(session: AsyncSession, event: LeadDispositioned) -> None:
        await service.record_dispositioned(session, event)

    async def on_rubric_activated(session: AsyncSession, event: RubricActivated) -> None:
        await agreement.learn_agreement(session, event)

    async def on_lead_erased(session: AsyncSession, event: LeadErased) -> None:
        await service.forget_person(session, event)

    return {
        RUBRIC_ACTIVATED: on_rubric_activated,
        LEAD_ERASED: on_lead_erased,
        LEAD_INGESTED: _batching(on_lead_ingested),
        ACTIVITY_RECORDED: _batching(on_activity_recorded),
        LEAD_SCORED: _batching(on_lead_scored),
        LEAD_QUALIFIED: _batching(on_lead_qualified),
        LEAD_ASSIGNED: _batching(on_lead_assigned),
        LEAD_TOUCHED: _batching(on_lead_touched),
        LEAD_DISPOSITIONED: _batching(on_lead_dispositioned),
    }


def _batching(one: EventHandler) -> BatchingHandler:
    """`one` for a single event; a batch goes to `record_batch`, which applies `one` per round."""

    async def many(session: AsyncSession, events: Sequence[Any]) -> None:
        await service.record_batch(session, events, record=one)

    return BatchingHandler(one, many)
