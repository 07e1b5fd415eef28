"""Scoring's Kafka handlers: parse the event, call one use case.

The shared `EventConsumer` owns the transaction and the idempotency record; handlers hold only
the call. They are built by a factory so the active-rubric lookup, created once at start-up,
is closed over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import batch, service
from services.scoring.agreement import ActiveRubric
from services.scoring.batch import ScoredEvent
from services.scoring.rubric import Rubric
from shared.contracts import ActivityRecorded, LeadDispositioned, LeadErased, LeadIngested
from shared.contracts.topics import ACTIVITY_RECORDED, LEAD_DISPOSITIONED, LEAD_ERASED, LEAD_INGESTED
from shared.kafka import BatchingHandler, EventHandler

_RUBRICS = "scoring.rubrics_of"


async def rubrics_for(session: AsyncSession, active: ActiveRubric) -> tuple[Rubric, list[Rubric]]:
    """The active rubric and the shadows, looked up once per transaction: a consumer batch
    scores all its events with the rubrics in force when it began, as one event would be."""
    transaction = session.get_transaction()
    cached = session.info.get(_RUBRICS)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1], cached[2]
    rubric = await active.current(session)
    shadows = await active.shadows(session)
    session.info[_RUBRICS] = (transaction, rubric, shadows)
    return rubric, shadows


def build_handlers(active: ActiveRubric) -> Mapping[str, EventHandler]:
    async def on_lead_ingested(session: AsyncSession, event: LeadIngested) -> None:
        rubric, shadows = await rubrics_for(session, active)
        await service.score_lead(session, rubric=rubric, event=event, shadows=shadows)

    async def on_activity_recorded(session: AsyncSession, event: ActivityRecorded) -> None:
        rubric, shadows = await rubrics_for(session, active)
        await service.score_activity(session, rubric=rubric, event=event, shadows=shadows)

    async def on_scored_events(session: AsyncSession, events: Sequence[ScoredEvent]) -> None:
        rubric, shadows = await rubrics_for(session, active)
        await batch.score_events(session, rubric=rubric, events=events, shadows=shadows)

    async def on_lead_dispositioned(session: AsyncSession, event: LeadDispositioned) -> None:
        await service.record_disposition(session, event=event)

    async def on_lead_erased(session: AsyncSession, event: LeadErased) -> None:
        await service.erase_lead(session, event=event)

    return {
        LEAD_INGESTED: BatchingHandler(on_lead_ingested, on_scored_events),
        LEAD_DISPOSITIONED: on_lead_dispositioned,
        ACTIVITY_RECORDED: BatchingHandler(on_activity_recorded, on_scored_events),
        LEAD_ERASED: on_lead_erased,
    }
