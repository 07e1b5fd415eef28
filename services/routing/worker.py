"""The routing process's background loops, in every replica: SLA timers and the fallback queue,
and the delivery of notifications to the team's webhook."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx

from services.routing import notifications, rule_versions, service, sla
from services.routing.metrics import NOTIFICATION_FAILURES, NOTIFICATIONS_PENDING, SLA_TIMERS_PENDING
from services.routing.notification_repository import NotificationRepository
from services.routing.policy import SlaPolicy
from services.routing.sla_repository import SlaTimerRepository
from shared.contracts import utc_now
from shared.db import Database
from shared.workers import PeriodicWorker

log = logging.getLogger(__name__)


class RoutingWorker(PeriodicWorker):
    """Every `interval_s`: fire due SLA timers, plan reminders for new ones, then retry leads
    waiting in the fallback queue (a rep's working hours may have begun or a cap been freed).
    Replicas share the work through row locks, so running one per replica is safe."""

    name = "routing.worker"
    # Settled notifications are kept a month for audit, then pruned about once an hour.
    notification_retention = timedelta(days=30)
    prune_every = timedelta(hours=1)
    # Counting pending timers reads the whole pending index (100k timers: milliseconds every
    # tick); a scrape every 15 s or so needs it no oftener.
    count_pending_every = timedelta(seconds=10)

    def __init__(self, db: Database, *, interval_s: float, batch_size: int, policy: SlaPolicy) -> None:
        super().__init__(interval_s=interval_s)
        self.db = db
        self.batch_size = batch_size
        self.policy = policy
        self._next_prune_at = utc_now() + self.prune_every
        self._next_count_at = utc_now()

    async def run_once(self) -> tuple[int, int]:
        """One pass; returns (breaches fired, queued leads assigned)."""
        breaches = 0
        while True:
            async with self.db.transaction() as session:
                fired = await sla.fire_due_sla_timers(
                    session, now=utc_now(), limit=self.batch_size, policy=self.policy
                )
            breaches += fired.breaches
            if fired.timers < self.batch_size:
                break
        # After firing, so nothing about planning can hold up a due timer.
        if self.policy.reminder_fractions:
            while True:
                async with self.db.transaction() as session:
                    planned = await sla.plan_reminders(
                        session, fractions=self.policy.reminder_fractions, limit=self.batch_size
                    )
                if planned < self.batch_size:
                    break
        async with self.db.transaction() as session:
            assigned = await service.retry_fallback_queue(session)
        if utc_now() >= self._next_count_at:
            self._next_count_at = utc_now() + self.count_pending_every
            # Gauges only, each in its own read: a failure here must not undo the work above.
            try:
                async with self.db.transaction() as session:
                    SLA_TIMERS_PENDING.set(await SlaTimerRepository(session).count_pending())
                    # Rules drifting from the team are worth an alert (baton_routing_rule_findings).
                    await rule_versions.health(session, version=None)
            except Exception as exc:
                log.warning("routing.gauges_failed", extra={"error": repr(exc)})
        if utc_now() >= self._next_prune_at:
            self._next_prune_at = utc_now() + self.prune_every
            async with self.db.transaction() as session:
                await NotificationRepository(session).prune(before=utc_now() - self.notification_retention)
        return breaches, assigned


class NotificationWorker(PeriodicWorker):
    """Sends pending notifications to the webhook, at least once, apart from the timer path (a
    slow or failing webhook never delays a timer). A failed call is retried with exponential
    backoff (or the webhook's Retry-After) until `max_attempts`, then the row is `failed`."""

    name = "routing.notifier"
    batch_size = 50
    lease = timedelta(seconds=60)

    def __init__(
        self,
        db: Database,
        *,
        url: str,
        interval_s: float,
        timeout_s: float,
        max_attempts: int,
        backoff_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(interval_s=interval_s)
        self.db = db
        self.url = url
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.client = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    async def stop(self) -> None:
        await super().stop()
        await self.client.aclose()

    async def run_once(self) -> int:
        """One pass; returns how many notifications the webhook accepted."""
        delivered = 0
        while not self.stopping:
            async with self.db.transaction() as session:
                claimed = await notifications.claim_due_notifications(
                    session, now=utc_now(), limit=self.batch_size, lease=self.lease
                )
            if not claimed:
                break
            outcomes = await asyncio.gather(*(self._post(n) for n in claimed))
            async with self.db.transaction() as session:
                for sent, (error, retry_after) in zip(claimed, outcomes, strict=True):
                    status = await notifications.record_delivery(
                        session,
                        sent=sent,
                        error=error,
                        at=utc_now(),
                        max_attempts=self.max_attempts,
                        backoff_s=self.backoff_s,
                        retry_after_s=retry_after,
                    )
                    delivered += status == "sent"
            if len(claimed) < self.batch_size:
                break
        async with self.db.transaction() as session:
            NOTIFICATIONS_PENDING.set(await NotificationRepository(session).count_pending())
        return delivered

    async def _post(self, outgoing: notifications.Outgoing) -> tuple[str | None, float | None]:
        """POST one message; returns (error or None, the webhook's Retry-After in seconds)."""
        try:
            response = await self.client.post(self.url, json=outgoing.message)
        except httpx.TimeoutException as exc:
            NOTIFICATION_FAILURES.labels("timeout").inc()
            return f"timeout: {exc!r}", None
        except httpx.HTTPError as exc:
            NOTIFICATION_FAILURES.labels("connection").inc()
            return f"connection: {exc!r}", None
        if response.is_success:
            return None, None
        NOTIFICATION_FAILURES.labels(f"http_{response.status_code}").inc()
        log.warning(
            "routing.notification_failed",
            extra={"notification_id": str(outgoing.id), "status": response.status_code},
        )
        return f"HTTP {response.status_code}: {response.text[:200]}", _retry_after(response)


def _retry_after(response: httpx.Response) -> float | None:
    # Slack answers 429 with Retry-After in seconds.
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None
