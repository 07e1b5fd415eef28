"""The loops that send out what the consumer queued, apart from routing (a slow or failing
receiver or CRM never delays an assignment): signed webhook deliveries, and owner syncs into
the CRM. Replicas share the work through row locks and leases, so each runs in every replica."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import crm_sync, webhook_delivery, webhooks
from services.routing.crm_clients import CrmCallFailed, CrmConnector
from services.routing.crm_repository import CrmRepository
from services.routing.webhook_repository import WebhookRepository
from shared.contracts import utc_now
from shared.db import Database
from shared.workers import LeasedSendWorker

log = logging.getLogger(__name__)

WEBHOOK_DELIVERIES = Counter(
    "baton_routing_webhook_deliveries_total",
    "Outbound webhook delivery attempts, by outcome (delivered, retry, dead).",
    ["outcome"],
)
WEBHOOKS_PENDING = Gauge("baton_routing_webhook_deliveries_pending", "Webhook deliveries not yet settled.")
CRM_SYNCS = Counter(
    "baton_routing_crm_sync_total",
    "CRM owner write-back attempts, by CRM and outcome (synced, failed, dead).",
    ["crm", "outcome"],
)
CRM_SYNC_STATES = Gauge("baton_routing_crm_syncs", "CRM owner syncs by state.", ["state"])


class WebhookDeliveryWorker(LeasedSendWorker[webhook_delivery.Outgoing, webhook_delivery.AttemptResult]):
    """POSTs due deliveries, signed by the Standard Webhooks scheme, at least once: a non-2xx
    answer or a failed call is retried with exponential backoff until `max_attempts`."""

    name = "routing.webhooks"
    batch_size = 50
    # Longer than one call may take: a claim outlives the attempt it was made for.
    lease = timedelta(seconds=120)

    def __init__(
        self,
        db: Database,
        *,
        interval_s: float,
        timeout_s: float,
        max_attempts: int,
        backoff_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(db, interval_s=interval_s)
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        # Keep alive every connection a batch's sends in flight open, or each batch dials again.
        limits = httpx.Limits(
            max_connections=self.max_in_flight, max_keepalive_connections=self.max_in_flight
        )
        self.client = httpx.AsyncClient(
            timeout=timeout_s, transport=transport, follow_redirects=False, limits=limits
        )

    async def stop(self) -> None:
        await super().stop()
        await self.client.aclose()

    async def claim(self, session: AsyncSession, *, now: datetime) -> Sequence[webhook_delivery.Outgoing]:
        return await webhook_delivery.claim_due_deliveries(
            session, now=now, limit=self.batch_size, lease=self.lease
        )

    async def send(self, claimed: webhook_delivery.Outgoing) -> webhook_delivery.AttemptResult:
        return await self._post(claimed)

    def failed(self, claimed: webhook_delivery.Outgoing, error: Exception) -> webhook_delivery.AttemptResult:
        # An attempt like any other: listed on the delivery, retried with backoff, then dead.
        return webhook_delivery.AttemptResult(
            status_code=None, error=f"sender raised {error!r}"[:500], duration_ms=0
        )

    async def record(
        self,
        session: AsyncSession,
        claimed: webhook_delivery.Outgoing,
        outcome: webhook_delivery.AttemptResult,
    ) -> bool:
        return await self.record_all(session, [(claimed, outcome)]) == 1

    async def record_all(
        self,
        session: AsyncSession,
        sent: Sequence[tuple[webhook_delivery.Outgoing, webhook_delivery.AttemptResult]],
    ) -> int:
        statuses = await webhook_delivery.record_attempts(
            session, sent, at=utc_now(), max_attempts=self.max_attempts, backoff_s=self.backoff_s
        )
        for status in statuses:
            if status != "gone":
                WEBHOOK_DELIVERIES.labels("retry" if status == "pending" else status).inc()
        return statuses.count("delivered")

    async def count_pending(self, session: AsyncSession) -> None:
        WEBHOOKS_PENDING.set(await WebhookRepository(session).count_pending())

    async def _post(self, outgoing: webhook_delivery.Outgoing) -> webhook_delivery.AttemptResult:
        sent_at = utc_now()
        headers = webhooks.signed_headers(
            outgoing.keys.in_use(sent_at),
            message_id=str(outgoing.delivery_id),
            sent_at=sent_at,
            body=outgoing.body,
        )
        started = time.perf_counter()
        try:
            response = await self.client.post(outgoing.url, content=outgoing.body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            return webhook_delivery.AttemptResult(None, f"{type(exc).__name__}: {exc}", _ms_since(started))
        error = None if response.is_success else f"HTTP {response.status_code}: {response.text[:200]}"
        if error is not None:
            log.warning(
                "routing.webhook_failed",
                extra={"delivery_id": str(outgoing.delivery_id), "status": response.status_code},
            )
        return webhook_delivery.AttemptResult(
            response.status_code, error, _ms_since(started), _retry_after_s(response)
        )


class CrmSyncWorker(LeasedSendWorker[crm_sync.OwnerSync, tuple[str | None, str | None, float | None]]):
    """Writes assigned leads' owners into the CRM: find or create the record, set the owner. A
    failure (rate limit, server error, expired token) is retried with backoff, the CRM's
    Retry-After honoured; after `max_attempts` the sync is `dead` and stays listed."""

    name = "routing.crm_sync"
    batch_size = 20
    # One at a time: CRMs limit requests per second per account, and a burst only buys 429s.
    one_at_a_time = True
    lease = timedelta(seconds=120)

    def __init__(
        self,
        db: Database,
        *,
        connector: CrmConnector,
        client: httpx.AsyncClient,
        interval_s: float,
        max_attempts: int,
        backoff_s: float,
    ) -> None:
        super().__init__(db, interval_s=interval_s)
        self.connector = connector
        self.client = client
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s

    async def stop(self) -> None:
        await super().stop()
        await self.client.aclose()

    async def claim(self, session: AsyncSession, *, now: datetime) -> Sequence[crm_sync.OwnerSync]:
        return await crm_sync.claim_due_syncs(
            session, crm=self.connector.name, now=now, limit=self.batch_size, lease=self.lease
        )

    async def send(self, claimed: crm_sync.OwnerSync) -> tuple[str | None, str | None, float | None]:
        return await self._sync(claimed)

    async def record(
        self,
        session: AsyncSession,
        claimed: crm_sync.OwnerSync,
        outcome: tuple[str | None, str | None, float | None],
    ) -> bool:
        record_id, error, retry_after = outcome
        state = await crm_sync.record_sync(
            session,
            sync=claimed,
            record_id=record_id,
            error=error,
            retry_after_s=retry_after,
            at=utc_now(),
            max_attempts=self.max_attempts,
            backoff_s=self.backoff_s,
        )
        CRM_SYNCS.labels(self.connector.name, state).inc()
        return state == "synced"

    async def count_pending(self, session: AsyncSession) -> None:
        for state, count in (await CrmRepository(session).count_by_state()).items():
            CRM_SYNC_STATES.labels(state).set(count)

    async def _sync(self, sync: crm_sync.OwnerSync) -> tuple[str | None, str | None, float | None]:
        try:
            record_id = await self.connector.set_owner(
                lead=sync.lead, record_id=sync.record_id, owner_id=sync.crm_user_id
            )
        except CrmCallFailed as exc:
            log.warning(
                "routing.crm_sync_failed",
                extra={
                    "lead_id": str(sync.lead_id),
                    "crm": sync.crm,
                    "error": str(exc),
                    "status": exc.status,
                },
            )
            return exc.record_id, str(exc), exc.retry_after_s
        return record_id, None, None


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None
