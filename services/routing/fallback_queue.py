"""The fallback queues: leads nobody could take, assigned once someone can (working hours
begin, a cap frees up, a rep joins, the rules change). Transport-free."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.assignment import decide_and_assign, reroute
from services.routing.repository import AssignmentRepository, FallbackQueueRepository, LedgerRepository
from services.routing.requalification import comes_round_again, route_again
from services.routing.rule_versions import ActiveRules
from shared.contracts import LeadQualified, utc_now

log = logging.getLogger(__name__)

DRAIN_BATCH = 100


async def assign_queued_leads(session: AsyncSession, *, rules: ActiveRules, limit: int = DRAIN_BATCH) -> int:
    """Assign leads waiting in the fallback queues, oldest first, while reps can take them.

    Once a queue's lead finds nobody, the rest of that queue waits for the next retry; other
    queues (other pools, other rules) are still tried.
    """
    queue = FallbackQueueRepository(session)
    assigned = 0
    stuck: set[str] = set()
    for waiting in await queue.claim_oldest(limit=limit):
        if waiting.pool in stuck:
            continue
        existing = await AssignmentRepository(session).by_lead(waiting.lead_id)
        if existing is not None:
            existing = await AssignmentRepository(session).lock(existing.id)
        if existing is not None and existing.status == "queued":
            # Handed back with nobody to take it: routed again, away from the rep who gave it back.
            decision = await reroute(
                session,
                rules=rules,
                assignment=existing,
                at=utc_now(),
                excluding=existing.rep_id,
                kind="from_fallback_queue",
            )
            if decision.chosen is None:
                stuck.update({waiting.pool, decision.queue})
                continue
            assigned += 1
            continue
        event = LeadQualified.model_validate(waiting.event)
        if existing is not None and comes_round_again(event, existing):
            # A re-MQL nobody could take: its closed assignment starts the next round now.
            outcome = await route_again(
                session, rules=rules, event=event, existing=existing, queued_at=waiting.queued_at
            )
        elif existing is not None:
            # A later qualification of the same lead found a rep first.
            await queue.remove(waiting.lead_id)
            continue
        else:
            outcome = await decide_and_assign(session, rules=rules, event=event, queued_at=waiting.queued_at)
        if outcome.result == "queued":
            stuck.update({waiting.pool, outcome.queue or waiting.pool})
            continue
        await queue.remove(waiting.lead_id)
        assigned += outcome.result == "assigned"
    if assigned:
        log.info("routing.fallback_queue_drained", extra={"assigned": assigned})
    return assigned


async def retry_fallback_queue(session: AsyncSession, *, rules: ActiveRules) -> int:
    """Try the fallback queue again (working hours begin, caps free up); cheap when empty."""
    if await FallbackQueueRepository(session).size() == 0:
        return 0
    await LedgerRepository(session).enter_pool(exclusive=True)
    return await assign_queued_leads(session, rules=rules)
