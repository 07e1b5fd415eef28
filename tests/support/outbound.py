"""Helpers of the outbound tests: routing's `lead.assigned` for an assignment, sending events
out in a transaction, subscribing, CRM user ids, and running a worker's passes until done."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
from prometheus_client import REGISTRY

from services.routing import crm_sync, outbound, webhook_delivery
from services.routing.main import create_app
from services.routing.models import Assignment
from services.routing.outbound_schemas import CrmIdentityPut, WebhookCreate
from services.routing.settings import RoutingSettings
from services.routing.worker_outbound import CrmSyncWorker, WebhookDeliveryWorker
from shared.auth import Role
from shared.contracts import LeadAssigned, LeadAssignedPayload, utc_now
from shared.db import Database
from shared.workers import PeriodicWorker
from tests.conftest import bearer
from tests.support.apps import running_app

ADMIN = bearer(Role.ADMIN)
MANAGER = bearer(Role.MANAGER)


def assigned_event(assignment: Assignment, rep_id: uuid.UUID | None = None) -> LeadAssigned:
    """The `lead.assigned` routing published for `assignment` (to `rep_id` after a hand-over)."""
    payload = LeadAssignedPayload(
        assignment_id=assignment.id,
        rep_id=rep_id or assignment.rep_id,
        rep_name="rep",
        strategy=assignment.strategy,
        sla_tier=assignment.sla_tier,
        sla_due_at=assignment.sla_due_at,
        assigned_at=assignment.assigned_at,
        qualified_at=assignment.qualified_at,
    )
    return LeadAssigned.new(lead_id=assignment.lead_id, producer="routing", payload=payload)


async def send_out(db: Database, event: LeadAssigned) -> int:
    async with db.transaction() as session:
        return await outbound.send_event_out(session, event=event)


async def subscribe(db: Database, url: str, **fields: Any) -> tuple[uuid.UUID, str]:
    async with db.transaction() as session:
        created = await webhook_delivery.subscribe(
            session,
            subscription=WebhookCreate.model_validate(
                {"url": url, "event_types": ["lead.assigned"], **fields}
            ),
            at=utc_now(),
        )
    return created.id, created.secret


async def set_crm_user(db: Database, rep_id: uuid.UUID, crm: str, crm_user_id: str) -> None:
    async with db.transaction() as session:
        await crm_sync.set_rep_identity(
            session,
            rep_id=rep_id,
            identity=CrmIdentityPut(crm=crm, crm_user_id=crm_user_id),
            at=utc_now(),
        )


async def run_until(worker: PeriodicWorker, done: Any, *, passes: int = 200) -> None:
    """Run the worker's passes (as its loop would, a little apart) until `done()` holds."""
    for _ in range(passes):
        await worker.run_once()
        if done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the worker never got there")


@asynccontextmanager
async def webhook_worker(db: Database, *, max_attempts: int = 5) -> AsyncIterator[WebhookDeliveryWorker]:
    worker = WebhookDeliveryWorker(
        db, interval_s=3600, timeout_s=5, max_attempts=max_attempts, backoff_s=0.01
    )
    try:
        yield worker
    finally:
        await worker.client.aclose()


def admin_app() -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """Routing's API without its consumer; its background loops pass once at start, then sleep."""
    settings = RoutingSettings(worker_interval_s=3600, webhook_interval_s=3600)
    return running_app(create_app(settings), consume=False)


async def crm_worker(
    db: Database, connector: Any, client: httpx.AsyncClient, *, max_attempts: int = 10
) -> CrmSyncWorker:
    return CrmSyncWorker(
        db, connector=connector, client=client, interval_s=3600, max_attempts=max_attempts, backoff_s=0.01
    )


def crm_metric(crm: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("baton_routing_crm_sync_total", {"crm": crm, "outcome": outcome}) or 0.0
