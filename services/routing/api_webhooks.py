"""HTTP routes of outbound webhooks (admin) and the CRM owner write-back."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from services.routing import crm_sync, webhook_delivery
from services.routing.dependencies import ManagerDep
from services.routing.outbound_schemas import (
    CrmIdentityPut,
    CrmIdentityRead,
    CrmName,
    CrmSyncRead,
    CrmSyncState,
    DeliveryStatus,
    SecretRotate,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryRead,
    WebhookRead,
)
from shared.auth import Principal, Role, require_roles
from shared.contracts import utc_now
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1")

AdminDep = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")]


@router.post(
    "/webhooks",
    tags=["webhooks"],
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a URL to events; deliveries are signed by the Standard Webhooks scheme",
)
async def subscribe(session: SessionDep, principal: AdminDep, subscription: WebhookCreate) -> WebhookCreated:
    return await webhook_delivery.subscribe(
        session, subscription=subscription, at=utc_now(), by=principal.subject
    )


@router.get("/webhooks", tags=["webhooks"], summary="Every webhook subscription (without secrets)")
async def list_webhooks(session: SessionDep, principal: AdminDep) -> list[WebhookRead]:
    return await webhook_delivery.list_subscriptions(session)


@router.get("/webhooks/{subscription_id}", tags=["webhooks"], summary="One webhook subscription")
async def get_webhook(session: SessionDep, principal: AdminDep, subscription_id: uuid.UUID) -> WebhookRead:
    return await webhook_delivery.get_subscription(session, subscription_id=subscription_id)


@router.delete(
    "/webhooks/{subscription_id}",
    tags=["webhooks"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unsubscribe (undelivered messages are dropped with it)",
)
async def unsubscribe(session: SessionDep, principal: AdminDep, subscription_id: uuid.UUID) -> Response:
    await webhook_delivery.unsubscribe(session, subscription_id=subscription_id, by=principal.subject)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/webhooks/{subscription_id}/rotate-secret",
    tags=["webhooks"],
    summary="A new signing secret; the old one keeps signing beside it for the overlap",
)
async def rotate_secret(
    session: SessionDep, principal: AdminDep, subscription_id: uuid.UUID, rotation: SecretRotate
) -> SecretRotated:
    return await webhook_delivery.rotate_secret(
        session,
        subscription_id=subscription_id,
        overlap=timedelta(seconds=rotation.overlap_seconds),
        at=utc_now(),
        by=principal.subject,
    )


@router.get(
    "/webhooks/{subscription_id}/deliveries",
    tags=["webhooks"],
    summary="A subscription's deliveries with every attempt",
)
async def list_deliveries(
    session: SessionDep,
    principal: AdminDep,
    subscription_id: uuid.UUID,
    limit: Limit = 100,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
) -> list[WebhookDeliveryRead]:
    return await webhook_delivery.list_deliveries(
        session, subscription_id=subscription_id, status=status_, limit=limit
    )


@router.post(
    "/webhooks/{subscription_id}/deliveries/{delivery_id}/resend",
    tags=["webhooks"],
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a delivery again (same webhook-id and body, new attempts)",
)
async def resend(
    session: SessionDep, principal: AdminDep, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDeliveryRead:
    return await webhook_delivery.resend(
        session, subscription_id=subscription_id, delivery_id=delivery_id, at=utc_now(), by=principal.subject
    )


@router.put("/crm/reps/{rep_id}", tags=["crm"], summary="Set a rep's user id in a CRM (their owner id there)")
async def set_rep_identity(
    session: SessionDep, principal: ManagerDep, rep_id: uuid.UUID, identity: CrmIdentityPut
) -> CrmIdentityRead:
    return await crm_sync.set_rep_identity(
        session, rep_id=rep_id, identity=identity, at=utc_now(), by=principal.subject
    )


@router.get("/crm/reps", tags=["crm"], summary="Reps' CRM user ids")
async def list_rep_identities(
    session: SessionDep, principal: ManagerDep, rep_id: uuid.UUID | None = None
) -> list[CrmIdentityRead]:
    return await crm_sync.list_rep_identities(session, rep_id=rep_id)


@router.get(
    "/crm/syncs",
    tags=["crm"],
    summary="Owner write-backs into the CRM, by state (failed ones are being retried; dead ones gave up)",
)
async def list_syncs(
    session: SessionDep,
    principal: ManagerDep,
    state: CrmSyncState | None = None,
    lead_id: uuid.UUID | None = None,
    limit: Limit = 100,
) -> list[CrmSyncRead]:
    return await crm_sync.list_syncs(session, state=state, lead_id=lead_id, limit=limit)


@router.post(
    "/crm/syncs/{lead_id}/retry",
    tags=["crm"],
    status_code=status.HTTP_202_ACCEPTED,
    summary="Try a lead's failed or dead owner write-back again, with a fresh budget of attempts",
)
async def retry_sync(
    session: SessionDep, principal: ManagerDep, lead_id: uuid.UUID, crm: CrmName | None = None
) -> list[CrmSyncRead]:
    return await crm_sync.retry_sync(session, lead_id=lead_id, crm=crm, at=utc_now(), by=principal.subject)
