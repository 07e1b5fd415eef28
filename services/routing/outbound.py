"""What routing's own events send out: a delivery for every webhook subscription that wants the
event, and for an assignment the owner write-back into the holder's CRM. Called by the consumer
inside its transaction (with the events' `processed_event` rows); the workers deliver later."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import crm_sync, webhooks
from services.routing.crm_repository import AssignmentFacts, CrmRepository
from services.routing.outbound_models import WebhookSubscription
from services.routing.webhook_repository import WebhookRepository
from shared.contracts import LeadAssigned, LeadDispositioned, LeadTouched, SlaBreached, utc_now
from shared.contracts.rounds import rounds_by_lead

OutboundEvent = LeadAssigned | LeadTouched | LeadDispositioned | SlaBreached


async def send_event_out(session: AsyncSession, *, event: OutboundEvent) -> int:
    """Queue `event` for every subscription that wants it and, for an assignment, the owner
    write-back. Returns the number of webhook deliveries queued."""
    return await send_events_out(session, events=[event])


async def send_events_out(session: AsyncSession, *, events: Sequence[OutboundEvent]) -> int:
    """`send_event_out` for a batch, in a few statements; the same effect as one event at a
    time, in order (a lead handed over twice in the batch ends with its last holder)."""
    if not events:
        return 0
    facts = await CrmRepository(session).assignment_facts({e.payload.assignment_id for e in events})
    queued = await _queue_deliveries(session, events=events, facts=facts)
    assigned = [e for e in events if isinstance(e, LeadAssigned) and e.payload.assignment_id in facts]
    for round_ in rounds_by_lead(assigned):
        holders = [
            crm_sync.NewHolder(
                lead_id=e.lead_id,
                assignment_id=e.payload.assignment_id,
                rep_id=e.payload.rep_id,
                lead=facts[e.payload.assignment_id].lead,
                at=e.occurred_at,
            )
            for e in round_
        ]
        await crm_sync.queue_owner_syncs(session, holders=holders)
    return queued


async def forget_lead(session: AsyncSession, *, lead_id: uuid.UUID) -> None:
    """Honour an erasure in what was queued to go out: the person leaves the webhook bodies
    and CRM syncs, and nothing still pending is sent."""
    erased = webhooks.delivery_body(
        event_type="lead.erased", occurred_at=utc_now(), data={"lead_id": str(lead_id)}
    )
    await WebhookRepository(session).erase_lead(lead_id, body=erased)
    await CrmRepository(session).erase_lead(lead_id, at=utc_now())


def _reps_of(event: OutboundEvent) -> set[uuid.UUID]:
    reps = {event.payload.rep_id}
    if isinstance(event, SlaBreached) and event.payload.reassigned_to is not None:
        reps.add(event.payload.reassigned_to)
    return reps


def _audience(subscription: WebhookSubscription) -> webhooks.Audience:
    return webhooks.Audience(
        frozenset(subscription.event_types), frozenset(subscription.rep_ids), frozenset(subscription.pools)
    )


async def _queue_deliveries(
    session: AsyncSession, *, events: Sequence[OutboundEvent], facts: dict[uuid.UUID, AssignmentFacts]
) -> int:
    repository = WebhookRepository(session)
    subscriptions = await repository.subscribed_to({e.event_type for e in events})
    if not subscriptions:
        return 0
    audiences = [(s.id, _audience(s)) for s in subscriptions]
    now = utc_now()
    rows: list[dict[str, Any]] = []
    for event in events:
        known = facts.get(event.payload.assignment_id)
        pool = known.pool if known else None
        wanted = [
            sid for sid, a in audiences if a.wants(event.event_type, rep_ids=_reps_of(event), pool=pool)
        ]
        if not wanted:
            continue
        data: dict[str, Any] = {
            "event_id": str(event.event_id),
            "lead_id": str(event.lead_id),
            **event.payload.model_dump(mode="json"),
            "pool": pool,
            "lead": known.lead if known else None,
        }
        body = webhooks.delivery_body(event_type=event.event_type, occurred_at=event.occurred_at, data=data)
        rows.extend(
            {
                "id": uuid.uuid4(),
                "subscription_id": subscription_id,
                "event_id": event.event_id,
                "event_type": event.event_type,
                "lead_id": event.lead_id,
                "body": body,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for subscription_id in wanted
        )
    await repository.add_deliveries(rows)
    return len(rows)
