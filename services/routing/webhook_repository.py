"""Routing's SQL for outbound webhooks: subscriptions, deliveries and their attempts."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.lease_repository import claim_due
from services.routing.outbound_models import WebhookAttempt, WebhookDelivery, WebhookSubscription


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

    async def claim_due(self, *, now: datetime, limit: int, lease: timedelta) -> Sequence[WebhookDelivery]:
        """Lock due deliveries and push them `lease` ahead, so a replica that dies mid-call
        leaves them to be retried, never lost, and two replicas never send one at once."""
        return await claim_due(
            self.session,
            WebhookDelivery,
            next_attempt_at=WebhookDelivery.next_attempt_at,
            due=WebhookDelivery.status == "pending",
            now=now,
            limit=limit,
            lease=lease,
        )

    async def add_attempt(self, attempt: WebhookAttempt) -> bool:
        """Log an attempt; False when its delivery is gone (unsubscribed while in flight)."""
        exists = await self.session.scalar(
            select(WebhookDelivery.id).where(WebhookDelivery.id == attempt.delivery_id).with_for_update()
        )
        if exists is None:
            return False
        self.session.add(attempt)
        return True

    async def settle(self, delivery_id: uuid.UUID, *, attempts: int, **values: Any) -> None:
        """Record an attempt's outcome unless a resend has restarted the delivery meanwhile."""
        await self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.attempts == attempts,
            )
            .values(**values)
        )

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
