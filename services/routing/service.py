"""Routing's smaller use cases: the routing preview and erasure. Assigning lives in
`assignment.py`, the fallback queue in `fallback_queue.py`, the hand-overs reps and managers
ask for in `handovers.py`. No transport here: the caller owns the session and its transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import outbound
from services.routing.brief_repository import BriefRepository
from services.routing.decision import decide
from services.routing.notification_repository import NotificationRepository
from services.routing.repository import ErasureRepository, RepRepository
from services.routing.rule_versions import ActiveRules
from services.routing.schemas import (
    PassedOverRule,
    RankedRep,
    RoutingPreview,
    RoutingPreviewCreate,
    SkippedRep,
)
from shared.contracts import LeadErased, utc_now


async def erase_lead(session: AsyncSession, *, event: LeadErased) -> None:
    """Honour an erasure: assignments keep their facts, lose the person."""
    await ErasureRepository(session).erase_lead(event.lead_id)
    await BriefRepository(session).erase(event.lead_id)
    await NotificationRepository(session).erase_lead(event.lead_id)
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
    preview_read = RoutingPreview.model_validate(decision.trace)
    await _name_reps(session, preview_read)
    if decision.chosen is None:
        preview_read.queued, preview_read.queue = True, decision.queue
        preview_read.outcome = (
            f"Nobody can take this lead now (rule {preview_read.rule!r}): it would wait in the "
            f"{decision.queue} fallback queue and go to the first rep who can take it."
        )
    else:
        preview_read.outcome = (
            f"Rule {preview_read.rule!r} gives this lead to {preview_read.chosen_name or decision.chosen.id}."
        )
    return preview_read


async def _name_reps(session: AsyncSession, preview: RoutingPreview) -> None:
    """Traces keep rep ids (names change); a person reading a preview wants the names."""
    mentioned: list[RankedRep | SkippedRep | PassedOverRule] = [
        *preview.eligible,
        *preview.skipped,
        *preview.passed_over,
    ]
    ids = {entry.rep_id for entry in mentioned if entry.rep_id is not None}
    if preview.chosen is not None:
        ids.add(preview.chosen)
    reps = await RepRepository(session).by_ids(ids)
    for entry in mentioned:
        if entry.rep_id is not None and entry.rep_id in reps:
            entry.rep_name = reps[entry.rep_id].name
    if preview.chosen is not None and preview.chosen in reps:
        preview.chosen_name = reps[preview.chosen].name
