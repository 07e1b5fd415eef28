"""The routing process's background loops, in every replica: SLA timers and the fallback queue,
and the delivery of notifications (the team's webhook, each rep's Slack and email)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import delivery, fallback_queue, notifications, rule_versions, sla
from services.routing.mail import SmtpSessions
from services.routing.metrics import NOTIFICATIONS_PENDING, SLA_TIMERS_PENDING
from services.routing.notification_repository import NotificationRepository
from services.routing.policy import SlaPolicy, SmtpServer
from services.routing.rule_versions import ActiveRules
from services.routing.sla_repository import SlaTimerRepository
from shared.contracts import utc_now
from shared.db import Database
from shared.workers import LeasedSendWorker, PeriodicWorker

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

    def __init__(
        self, db: Database, rules: ActiveRules, *, interval_s: float, batch_size: int, policy: SlaPolicy
    ) -> None:
        super().__init__(interval_s=interval_s)
        self.db = db
        self.rules = rules
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
                    session, rules=self.rules, now=utc_now(), limit=self.batch_size, policy=self.policy
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
            assigned = await fallback_queue.retry_fallback_queue(session, rules=self.rules)
        if utc_now() >= self._next_count_at:
            self._next_count_at = utc_now() + self.count_pending_every
            # Gauges only, each in its own read: a failure here must not undo the work above.
            try:
                async with self.db.transaction() as session:
                    SLA_TIMERS_PENDING.set(await SlaTimerRepository(session).count_pending())
                    # Rules drifting from the team are worth an alert (baton_routing_rule_findings).
                    await rule_versions.health(session, rules=self.rules, version=None)
            except Exception as exc:
                log.warning("routing.gauges_failed", extra={"error": repr(exc)})
        if utc_now() >= self._next_prune_at:
            self._next_prune_at = utc_now() + self.prune_every
            async with self.db.transaction() as session:
                await NotificationRepository(session).prune(before=utc_now() - self.notification_retention)
        return breaches, assigned


class NotificationWorker(LeasedSendWorker[notifications.Outgoing, delivery.Outcome]):
    """Sends pending notifications on their channels (the team's webhook, a rep's Slack, a rep's
    email), at least once, apart from the timer and assignment paths (a slow or failing channel
    never delays routing). A failed delivery is retried with exponential backoff (or the
    webhook's Retry-After) until `max_attempts`, then the row is `failed`; a notification whose
    channel is not set up is recorded as `unsent`."""

    name = "routing.notifier"
    batch_size = 50
    lease = timedelta(seconds=60)

    def __init__(
        self,
        db: Database,
        *,
        url: str | None,
        interval_s: float,
        timeout_s: float,
        max_attempts: int,
        backoff_s: float,
        smtp: SmtpServer | None = None,
        public_url: str = "http://localhost:8003",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(db, interval_s=interval_s)
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        # Keep alive every connection a batch's sends in flight open, or each batch dials again.
        limits = httpx.Limits(
            max_connections=self.max_in_flight, max_keepalive_connections=self.max_in_flight
        )
        self.client = httpx.AsyncClient(timeout=timeout_s, transport=transport, limits=limits)
        self.mail = SmtpSessions(smtp, timeout_s=timeout_s) if smtp is not None else None
        self.senders = delivery.senders(self.client, team_url=url, mail=self.mail, public_url=public_url)

    async def stop(self) -> None:
        await super().stop()
        await self.client.aclose()
        if self.mail is not None:
            await asyncio.to_thread(self.mail.close)

    async def claim(self, session: AsyncSession, *, now: datetime) -> Sequence[notifications.Outgoing]:
        return await notifications.claim_due_notifications(
            session, now=now, limit=self.batch_size, lease=self.lease
        )

    async def send(self, claimed: notifications.Outgoing) -> delivery.Outcome:
        return await self.senders[claimed.channel](claimed)

    def failed(self, claimed: notifications.Outgoing, error: Exception) -> delivery.Outcome:
        # Retried with backoff like any failed attempt, and visible on the notification.
        return delivery.Outcome(error=f"sender raised {error!r}"[:500])

    async def record(
        self, session: AsyncSession, claimed: notifications.Outgoing, outcome: delivery.Outcome
    ) -> bool:
        return await self.record_all(session, [(claimed, outcome)]) == 1

    async def record_all(
        self, session: AsyncSession, sent: Sequence[tuple[notifications.Outgoing, delivery.Outcome]]
    ) -> int:
        statuses = await notifications.record_deliveries(
            session,
            [notifications.Delivered(c, o.error, o.retry_after_s, o.permanent) for c, o in sent],
            at=utc_now(),
            max_attempts=self.max_attempts,
            backoff_s=self.backoff_s,
        )
        return statuses.count("sent")

    async def count_pending(self, session: AsyncSession) -> None:
        NOTIFICATIONS_PENDING.set(await NotificationRepository(session).count_pending())
