"""Scoring's Kafka handlers: parse the event, call one use case.

The shared `EventConsumer` owns the transaction and the idempotency record; handlers hold only
the call. They are built by a factory so the active rubric, created once at start-up (and kept
on `app.state`), is closed over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import batch, revisions, service
from services.scoring.agreement import ActiveRubric
from services.scoring.batch import ScoredEvent
from services.scoring.lead_cache import LeadHistories
from shared.contracts import ActivityRecorded, LeadDispositioned, LeadErased, LeadIngested
from shared.contracts.revisions import AgreementRevisionProposed
from shared.contracts.topics import (
    ACTIVITY_RECORDED,
    LEAD_DISPOSITIONED,
    LEAD_ERASED,
    LEAD_INGESTED,
    REVISION_PROPOSED,
)
from shared.kafka import BatchingHandler, EventHandler


def build_handlers(
    active: ActiveRubric, histories: LeadHistories | None = None
) -> Mapping[str, EventHandler]:
    """Scoring's handlers by topic, scoring with the rubrics `active` holds in force; a batch
    reads and leaves its leads' activity histories in `histories` (the consumer's cache)."""

    async def on_lead_ingested(session: AsyncSession, event: LeadIngested) -> None:
        rubric, shadows = await active.in_force(session)
        await service.score_lead(session, rubric=rubric, event=event, shadows=shadows)

    async def on_activity_recorded(session: AsyncSession, event: ActivityRecorded) -> None:
        rubric, shadows = await active.in_force(session)
        await service.score_activity(session, rubric=rubric, event=event, shadows=shadows)

    async def on_scored_events(session: AsyncSession, events: Sequence[ScoredEvent]) -> None:
        rubric, shadows = await active.in_force(session)
        await batch.score_events(session, rubric=rubric, events=events, shadows=shadows, cache=histories)

    async def on_lead_dispositioned(session: AsyncSession, event: LeadDispositioned) -> None:
        await service.record_disposition(session, event=event)

    async def on_lead_erased(session: AsyncSession, event: LeadErased) -> None:
        await service.erase_lead(session, event=event)

    async def on_revision_proposed(session: AsyncSession, event: AgreementRevisionProposed) -> None:
        await revisions.open_drift_draft(session, event=event, active=active)

    return {
        LEAD_INGESTED: BatchingHandler(on_lead_ingested, on_scored_events),
        LEAD_DISPOSITIONED: on_lead_dispositioned,
        ACTIVITY_RECORDED: BatchingHandler(on_activity_recorded, on_scored_events),
        LEAD_ERASED: on_lead_erased,
        REVISION_PROPOSED: on_revision_proposed,
    }
