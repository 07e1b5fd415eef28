"""Routing's Kafka handlers: parse the event, call one use case.

The shared `EventConsumer` owns the transaction and the idempotency record; handlers hold only
the call. They are built by a factory so the active rules, created once at start-up, are
closed over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import briefs, commitments, outbound, requalification, service
from services.routing.rule_versions import ActiveRules
from shared.contracts import (
    ActivityRecorded,
    LeadErased,
    LeadIngested,
    LeadQualified,
    LeadScored,
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
    SLA_BREACHED,
)
from shared.kafka import BatchingHandler, EventHandler

# The score jump that makes a held lead hot again when the settings name none (see
# `RoutingSettings.hot_again_score_jump`).
DEFAULT_HOT_SCORE_JUMP = 20.0


def build_handlers(
    rules: ActiveRules, *, hot_score_jump: float = DEFAULT_HOT_SCORE_JUMP
) -> Mapping[str, EventHandler]:
    async def on_lead_qualified(session: AsyncSession, event: LeadQualified) -> None:
        await requalification.assign_qualified_lead(session, rules=rules, event=event)

    async def on_leads_qualified(session: AsyncSession, events: Sequence[LeadQualified]) -> None:
        await requalification.assign_qualified(session, rules=rules, events=events)

    async def on_lead_erased(session: AsyncSession, event: LeadErased) -> None:
        await service.erase_lead(session, event=event)

    # The lead brief's read model: why the lead qualified, what it answered, what it did.
    async def on_lead_scored(session: AsyncSession, event: LeadScored) -> None:
        await briefs.record_score(session, event=event, hot_score_jump=hot_score_jump)

    async def on_leads_scored(session: AsyncSession, events: Sequence[LeadScored]) -> None:
        await briefs.record_scores(session, events=events, hot_score_jump=hot_score_jump)

    async def on_lead_ingested(session: AsyncSession, event: LeadIngested) -> None:
        await briefs.record_form(session, event=event)

    async def on_leads_ingested(session: AsyncSession, events: Sequence[LeadIngested]) -> None:
        await briefs.record_forms(session, events=events)

    async def on_activity_recorded(session: AsyncSession, event: ActivityRecorded) -> None:
        await briefs.record_activity(session, event=event)

    async def on_activities_recorded(session: AsyncSession, events: Sequence[ActivityRecorded]) -> None:
        await briefs.record_activities(session, events=events)

    async def on_rubric_activated(session: AsyncSession, event: RubricActivated) -> None:
        await commitments.learn_agreement(session, event=event)

    async def on_outbound_event(session: AsyncSession, event: outbound.OutboundEvent) -> None:
        await outbound.send_event_out(session, event=event)

    async def on_outbound_events(session: AsyncSession, events: Sequence[outbound.OutboundEvent]) -> None:
        await outbound.send_events_out(session, events=events)

    return {
        LEAD_QUALIFIED: BatchingHandler(on_lead_qualified, on_leads_qualified),
        LEAD_ERASED: on_lead_erased,
        LEAD_SCORED: BatchingHandler(on_lead_scored, on_leads_scored),
        LEAD_INGESTED: BatchingHandler(on_lead_ingested, on_leads_ingested),
        ACTIVITY_RECORDED: BatchingHandler(on_activity_recorded, on_activities_recorded),
        RUBRIC_ACTIVATED: on_rubric_activated,
        # Routing's own events, read back to queue webhook deliveries and CRM syncs: apart from the
        # assignment's transaction, so an outbound failure can never undo or delay an assignment.
        **dict.fromkeys(
            (LEAD_ASSIGNED, LEAD_TOUCHED, LEAD_DISPOSITIONED, SLA_BREACHED),
            BatchingHandler(on_outbound_event, on_outbound_events),
        ),
    }
