"""What routing's own events send out: a delivery for every webhook subscription that wants the
event, and for an assignment the owner write-back into the holder's CRM. Called by the consumer
inside its transaction (with the event's `processed_event` row); the workers deliver later."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import crm_sync, webhooks
from services.routing.crm_repository import AssignmentFacts, CrmRepository
from services.routing.webhook_repository import WebhookRepository
from shared.contracts import LeadAssigned, LeadDispositioned, LeadTouched, SlaBreached, utc_now

OutboundEvent = LeadAssigned | LeadTouched | LeadDispositioned | SlaBreached


def _reps_of(event: OutboundEvent) -> set[uuid.UUID]:
    reps = {event.payload.rep_id}
    if isinstance(event, SlaBreached) and event.payload.reassigned_to is not None:
        reps.add(event.payload.reassigned_to)
    return reps


async def send_event_out(session: AsyncSession, *, event: OutboundEvent) -> int:
    """Queue `event` for every subscription that wants it and, for an assignment, the owner
    write-back. Returns the number of webhook deliveries queued."""
    facts = await CrmRepository(session).assignment_facts(event.payload.assignment_id)
    queued = await _queue_deliveries(session, event=event, facts=facts)
    if isinstance(event, LeadAssigned) and facts is not None:
        await crm_sync.queue_owner_sync(
            session,
            lead_id=event.lead_id,
            assignment_id=event.payload.assignment_id,
            rep_id=event.payload.rep_id,
            lead=facts.lead,
            at=event.occurred_at,
        )
    return queued


async def _queue_deliveries(
    session: AsyncSession, *, event: OutboundEvent, facts: AssignmentFacts | None
) -> int:
    repository = WebhookRepository(session)
    subscriptions = await repository.subscribed_to(event.event_type)
    if not subscriptions:
        return 0
    reps, pool = _reps_of(event), facts.pool if facts else None
    wanted = [
        s
        for s in subscriptions
        if webhooks.Audience(frozenset(s.event_types), frozenset(s.rep_ids), frozenset(s.pools)).wants(
            event.event_type, rep_ids=reps, pool=pool
        )
    ]
    if not wanted:
        return 0
    data: dict[str, Any] = {
        "event_id": str(event.event_id),
        "lead_id": str(event.lead_id),
        **event.payload.model_dump(mode="json"),
        "pool": pool,
        "lead": facts.lead if facts else None,
    }
    now = utc_now()
    body = webhooks.delivery_body(event_type=event.event_type, occurred_at=event.occurred_at, data=data)
    await repository.add_deliveries(
        [
            {
                "id": uuid.uuid4(),
                "subscription_id": s.id,
                "event_id": event.event_id,
                "event_type": event.event_type,
                "lead_id": event.lead_id,
                "body": body,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for s in wanted
        ]
    )
    return len(wanted)
