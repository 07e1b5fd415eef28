"""Routing's smaller use cases: the routing preview and erasure. Assigning lives in
`assignment.py`, the fallback queue in `fallback_queue.py`, the hand-overs reps and managers
ask for in `handovers.py`. No transport here: the caller owns the session and its transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import outbound
from services.routing.brief_repository import BriefRepository
from services.routing.decision import decide
from services.routing.repository import ErasureRepository
from services.routing.rule_versions import ActiveRules
from services.routing.schemas import RoutingPreview, RoutingPreviewCreate
from shared.contracts import LeadErased, utc_now


async def erase_lead(session: AsyncSession, *, event: LeadErased) -> None:
    """Honour an erasure: assignments keep their facts, lose the person."""
    await ErasureRepository(session).erase_lead(event.lead_id)
    await BriefRepository(session).erase(event.lead_id)
    await outbound.forget_lead(session, lead_id=event.lead_id)


async def preview_assignment(
    session: AsyncSession, *, rules: ActiveRules, preview: RoutingPreviewCreate
) -> RoutingPreview:
    """Who would get this lead if it qualified at `preview.at` (default now), by which rule,
    and why, without assigning it or moving any ledger."""
    decision = await decide(
        session,
        rules=rules,
        at=preview.at or utc_now(),
        lead=preview.lead.model_dump(mode="json"),
        qualification=preview.qualification(),
        lock=False,
    )
    return RoutingPreview.model_validate(decision.trace)
