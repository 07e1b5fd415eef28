"""Routing's SQL for outbound webhooks: subscriptions, deliveries and their attempts."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import Row, Table, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.lease_repository import claim_due
from services.routing.outbound_models import WebhookAttempt, WebhookDelivery, WebhookSubscription

# A send round's attempts and outcomes in two statements over `unnest(arrays)` (one text for any
# batch size). Each delivery is locked first: one deleted meanwhile (unsubscribed while in
# flight) is skipped, not a foreign-key error that would lose the round's other outcomes.
_LOG_ATTEMPTS = text(
    "WITH live AS (SELECT id FROM routing.webhook_delivery "
    "WHERE id = ANY(CAST(:delivery_id AS uuid[])) FOR UPDATE) "
    "INSERT INTO routing.webhook_attempt (id, delivery_id, attempted_at, status_code, error, duration_ms) "
    "SELECT gen_random_uuid(), v.delivery_id, :at, v.status_code, v.error, v.duration_ms "
    "FROM unnest(CAST(:delivery_id AS uuid[]), CAST(:status_code AS integer[]), CAST(:error AS text[]), "
    "CAST(:duration_ms AS integer[])) AS v(delivery_id, status_code, error, duration_ms) "
    "JOIN live ON live.id = v.delivery_id RETURNING delivery_id"
)
# Unless a resend restarted the delivery meanwhile (its status or attempts moved on).
_SETTLE = text(
    "UPDATE routing.webhook_delivery AS d SET status = v.status, "
    "delivered_at = CASE WHEN v.status = 'delivered' THEN CAST(:at AS timestamptz) ELSE d.delivered_at END, "
    "last_error = v.last_error, next_attempt_at = coalesce(v.next_attempt_at, d.next_attempt_at) "
    "FROM unnest(CAST(:id AS uuid[]), CAST(:attempts AS integer[]), CAST(:status AS varchar[]), "
    "CAST(:last_error AS text[]), CAST(:next_attempt_at AS timestamptz[])) "
    "AS v(id, attempts, status, last_error, next_attempt_at) "
    "WHERE d.id = v.id AND d.status = 'pending' AND d.attempts = v.attempts"
)


class LoggedAttempt(NamedTuple):
    delivery_id: uuid.UUID
    status_code: int | None
    error: str | None
    duration_ms: int


class Settlement(NamedTuple):
    """A delivery's outcome as stored, for the claim that counted `attempts`."""

    id: uuid.UUID
    attempts: int
    status: str
    last_error: str | None
    next_attempt_at: datetime | None


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_subscription(self, subscription: WebhookSubscription) -> None:
        self.session.add(subscription)
        await self.session.flush()

    async def subscription(
        self, subscription_id: uuid.UUID, *, lock: bool = False
    ) -> WebhookSubscription | None:
        statement = select(WebhookSubscription).where(
            WebhookSubscription.id == subscription_id, WebhookSubscription.active
        )
        if lock:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def delete_subscription(self, subscription_id: uuid.UUID) -> bool:
        """Remove a subscription with its deliveries and their attempts (cascade)."""
        result = await self.session.execute(
            delete(WebhookSubscription)
            .where(WebhookSubscription.id == subscription_id)
            .returning(WebhookSubscription.id)
        )
        return result.first() is not None

    async def subscriptions(self) -> Sequence[WebhookSubscription]:
        result = await self.session.execute(
            select(WebhookSubscription)
            .where(WebhookSubscription.active)
            .order_by(WebhookSubscription.created_at)
        )
        return result.scalars().all()

    async def subscribed_to(self, event_types: Collection[str]) -> Sequence[WebhookSubscription]:
        """Active subscriptions to any of `event_types`."""
        result = await self.session.execute(
            select(WebhookSubscription).where(
                WebhookSubscription.active, WebhookSubscription.event_types.overlap(sorted(event_types))
            )
        )
        return result.scalars().all()

    async def subscriptions_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WebhookSubscription]:
        if not ids:
            return {}
        result = await self.session.execute(
            select(WebhookSubscription).where(WebhookSubscription.id.in_(ids))
        )
        return {s.id: s for s in result.scalars()}

    async def add_deliveries(self, rows: list[dict[str, Any]]) -> None:
        """Insert deliveries; a redelivered event already queued for a subscription is skipped."""
        if rows:
            await self.session.execute(
                # Through the table, not the ORM's bulk path (see `NotificationRepository.add_all`).
                insert(cast(Table, WebhookDelivery.__table__)).on_conflict_do_nothing(
                    index_elements=["subscription_id", "event_id"]
                ),
                rows,
            )

    async def delivery(self, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery | None:
        result = await self.session.execute(
            select(WebhookDelivery).where(
                WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription_id
            )
        )
        return result.scalar_one_or_none()

    async def deliveries(
        self, subscription_id: uuid.UUID, *, status: str | None, limit: int
    ) -> Sequence[WebhookDelivery]:
        statement = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
        if status is not None:
            statement = statement.where(WebhookDelivery.status == status)
        result = await self.session.execute(
            statement.order_by(WebhookDelivery.created_at.desc()).limit(limit)
        )
        return result.scalars().all()

    async def attempts_of(self, delivery_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[WebhookAttempt]]:
        attempts: dict[uuid.UUID, list[WebhookAttempt]] = {d: [] for d in delivery_ids}
        if delivery_ids:
            result = await self.session.execute(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id.in_(delivery_ids))
                .order_by(WebhookAttempt.attempted_at)
            )
            for attempt in result.scalars():
                attempts[attempt.delivery_id].append(attempt)
        return attempts

    async def claim_due(self, *, now: datetime, limit: int, lease: timedelta) -> Sequence[Row[Any]]:
        """Lock due deliveries and push them `lease` ahead, so a replica that dies mid-call
        leaves them to be retried, never lost, and two replicas never send one at once."""
        return await claim_due(
            self.session,
            WebhookDelivery,
            due=WebhookDelivery.status == "pending",
            now=now,
            limit=limit,
            lease=lease,
        )

    async def log_attempts(self, attempts: Sequence[LoggedAttempt], *, at: datetime) -> set[uuid.UUID]:
        """Log a round's attempts; answers the deliveries that still exist."""
        if not attempts:
            return set()
        columns = dict(zip(LoggedAttempt._fields, map(list, zip(*attempts, strict=True)), strict=True))
        result = await self.session.execute(_LOG_ATTEMPTS, {**columns, "at": at})
        return set(result.scalars())

    async def settle(self, settlements: Sequence[Settlement], *, at: datetime) -> None:
        if settlements:
            columns = dict(zip(Settlement._fields, map(list, zip(*settlements, strict=True)), strict=True))
            await self.session.execute(_SETTLE, {**columns, "at": at})

    async def erase_lead(self, lead_id: uuid.UUID, *, body: str) -> None:
        """Replace the bodies of the lead's deliveries (which carry the person) with `body`;
        those not yet delivered are given up."""
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.lead_id == lead_id, WebhookDelivery.status == "pending")
            .values(status="dead", last_error="lead erased before delivery")
        )
        await self.session.execute(
            update(WebhookDelivery).where(WebhookDelivery.lead_id == lead_id).values(body=body)
        )

    async def count_pending(self) -> int:
        result = await self.session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "pending")
        )
        return int(result or 0)
