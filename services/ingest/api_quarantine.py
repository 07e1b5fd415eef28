"""`/v1/quarantine`: deliveries that authenticated but could not be mapped, listed and replayed."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.ingest import quarantine
from services.ingest.api_webhooks import PARSERS
from services.ingest.dependencies import intake
from services.ingest.schemas import QuarantinedDeliveryRead, QuarantineReplay, QuarantineReplayed
from shared.auth import Principal, Role, require_roles
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1/quarantine", tags=["quarantine"])
Configurer = Annotated[Principal, Depends(require_roles(Role.MARKETING))]


@router.get("", summary="Quarantined deliveries, newest first (pending only unless asked)")
async def list_quarantined(
    session: SessionDep,
    _: Configurer,
    include_replayed: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[QuarantinedDeliveryRead]:
    return await quarantine.list_quarantined(session, pending_only=not include_replayed, limit=limit)


@router.post(
    "/{delivery_id}/replay",
    summary="Map a quarantined delivery again (optionally with a fixed field map) and accept its lead",
)
async def replay_delivery(
    delivery_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: Configurer,
    replay: QuarantineReplay | None = None,
) -> QuarantineReplayed:
    return await quarantine.replay_delivery(
        session,
        intake(request),
        delivery_id=delivery_id,
        parsers=PARSERS,
        field_map=replay.field_map if replay else None,
        actor=principal.subject,
    )
