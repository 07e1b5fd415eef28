"""Use cases of outbound webhooks: subscribe, rotate a secret, queue an event's deliveries,
deliver them with retries, list them with their attempts, and send one again."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import webhooks
from services.routing.models import audit
from services.routing.outbound_errors import WebhookDeliveryNotFound, WebhookNotFound
from services.routing.outbound_models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from services.routing.outbound_schemas import (
    SecretRotated,
    WebhookAttemptRead,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryRead,
    WebhookRead,
)
from services.routing.webhook_repository import LoggedAttempt, Settlement, WebhookRepository
from shared.audit import SYSTEM_ACTOR, record_change


async def subscribe(
    session: AsyncSession, *, subscription: WebhookCreate, at: datetime, by: str = SYSTEM_ACTOR
) -> WebhookCreated:
    """Subscribe a URL to event types; the answer carries the new signing secret."""
    row = WebhookSubscription(
        id=uuid.uuid4(),
        url=str(subscription.url),
        description=subscription.description,
        event_types=subscription.event_types,
        rep_ids=sorted(set(subscription.rep_ids)),
        pools=sorted(set(subscription.pools)),
        secret=webhooks.generate_secret(),
        previous_secret=None,
        previous_secret_expires_at=None,
        active=True,
        created_at=at,
    )
    await WebhookRepository(session).add_subscription(row)
    read = WebhookRead.model_validate(row)
    await _record(session, by=by, action="webhook.subscribed", subscription_id=row.id, after=read)
    return WebhookCreated(**read.model_dump(), secret=row.secret)


async def _record(
    session: AsyncSession,
    *,
    by: str,
    action: str,
    subscription_id: uuid.UUID,
    before: WebhookRead | None = None,
    after: WebhookRead | None = None,
) -> None:
    """Never a secret: `WebhookRead` holds none."""
    await record_change(
        session,
        audit,
        actor=by,
        action=action,
        object_type="webhook_subscription",
        object_id=str(subscription_id),
        before=None if before is None else before.model_dump(mode="json"),
        after=None if after is None else after.model_dump(mode="json"),
    )


async def list_subscriptions(session: AsyncSession) -> list[WebhookRead]:
    return [WebhookRead.model_validate(s) for s in await WebhookRepository(session).subscriptions()]


async def get_subscription(session: AsyncSession, *, subscription_id: uuid.UUID) -> WebhookRead:
    row = await WebhookRepository(session).subscription(subscription_id)
    if row is None:
        raise WebhookNotFound(f"no webhook subscription {subscription_id}")
    return WebhookRead.model_validate(row)


async def unsubscribe(session: AsyncSession, *, subscription_id: uuid.UUID, by: str = SYSTEM_ACTOR) -> None:
    """Delete a subscription; its undelivered messages go with it."""
    repository = WebhookRepository(session)
    row = await repository.subscription(subscription_id, lock=True)
    before = None if row is None else WebhookRead.model_validate(row)
    if before is None or not await repository.delete_subscription(subscription_id):
        raise WebhookNotFound(f"no webhook subscription {subscription_id}")
    await _record(
        session, by=by, action="webhook.unsubscribed", subscription_id=subscription_id, before=before
    )


async def rotate_secret(
    session: AsyncSession,
    *,
    subscription_id: uuid.UUID,
    overlap: timedelta,
    at: datetime,
    by: str = SYSTEM_ACTOR,
) -> SecretRotated:
    """A new signing secret; the current one keeps signing beside it for `overlap`, so the
    receiver can deploy the new one without rejecting a delivery in between."""
    row = await WebhookRepository(session).subscription(subscription_id, lock=True)
    if row is None:
        raise WebhookNotFound(f"no webhook subscription {subscription_id}")
    before = WebhookRead.model_validate(row)
    if overlap > timedelta(0):
        row.previous_secret, row.previous_secret_expires_at = row.secret, at + overlap
    else:
        row.previous_secret, row.previous_secret_expires_at = None, None
    row.secret = webhooks.generate_secret()
    await session.flush()
    after = WebhookRead.model_validate(row)
    await _record(
        session, by=by, action="webhook.secret_rotated", subscription_id=row.id, before=before, after=after
    )
    return SecretRotated(secret=row.secret, previous_secret_expires_at=row.previous_secret_expires_at)


async def list_deliveries(
    session: AsyncSession, *, subscription_id: uuid.UUID, status: str | None, limit: int
) -> list[WebhookDeliveryRead]:
    repository = WebhookRepository(session)
    if await repository.subscription(subscription_id) is None:
        raise WebhookNotFound(f"no webhook subscription {subscription_id}")
    rows = await repository.deliveries(subscription_id, status=status, limit=limit)
    attempts = await repository.attempts_of([r.id for r in rows])
    return [_delivery_read(r, attempts[r.id]) for r in rows]


def _delivery_read(row: WebhookDelivery, attempts: list[WebhookAttempt]) -> WebhookDeliveryRead:
    return WebhookDeliveryRead(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        lead_id=row.lead_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        attempt_log=[WebhookAttemptRead.model_validate(a) for a in attempts],
    )


async def resend(
    session: AsyncSession,
    *,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    at: datetime,
    by: str = SYSTEM_ACTOR,
) -> WebhookDeliveryRead:
    """Queue a delivery again (delivered or dead), with the same id and body and a fresh
    budget of attempts; its earlier attempts stay in its log."""
    repository = WebhookRepository(session)
    row = await repository.delivery(subscription_id, delivery_id)
    if row is None:
        raise WebhookDeliveryNotFound(f"no delivery {delivery_id} for webhook {subscription_id}")
    before_status = row.status
    row.status, row.attempts, row.next_attempt_at, row.delivered_at = "pending", 0, at, None
    await session.flush()
    await record_change(  # the delivery's id, never its body (it carries the lead's data)
        session,
        audit,
        actor=by,
        action="webhook.delivery_resent",
        object_type="webhook_subscription",
        object_id=str(subscription_id),
        before={"delivery_id": delivery_id, "status": before_status},
        after={"delivery_id": delivery_id, "status": "pending"},
    )
    return _delivery_read(row, (await repository.attempts_of([row.id]))[row.id])


@dataclass(frozen=True)
class Outgoing:
    """One claimed delivery, with what it takes to send it (no ORM object crosses the call)."""

    delivery_id: uuid.UUID
    url: str
    body: str
    attempts: int
    keys: webhooks.SigningKeys


async def claim_due_deliveries(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta
) -> list[Outgoing]:
    repository = WebhookRepository(session)
    rows = await repository.claim_due(now=now, limit=limit, lease=lease)
    subscriptions = await repository.subscriptions_by_id(sorted({r.subscription_id for r in rows}))
    return [
        Outgoing(
            delivery_id=r.id,
            url=(s := subscriptions[r.subscription_id]).url,
            body=r.body,
            attempts=r.attempts,
            keys=webhooks.SigningKeys(s.secret, s.previous_secret, s.previous_secret_expires_at),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after_s: float | None = None

    @property
    def accepted(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def record_attempts(
    session: AsyncSession,
    results: Sequence[tuple[Outgoing, AttemptResult]],
    *,
    at: datetime,
    max_attempts: int,
    backoff_s: float,
) -> list[str]:
    """Log a round's attempts and settle each delivery: `delivered`, again later (`pending`), or
    `dead` once its attempts are used up; `gone` when it was deleted meanwhile. Returns each
    delivery's status, in order."""
    repository = WebhookRepository(session)
    logged = await repository.log_attempts(
        [LoggedAttempt(s.delivery_id, r.status_code, r.error, r.duration_ms) for s, r in results], at=at
    )
    settlements = [
        settlement(sent, result, at=at, max_attempts=max_attempts, backoff_s=backoff_s)
        for sent, result in results
        if sent.delivery_id in logged
    ]
    await repository.settle(settlements, at=at)
    settled = {s.id: s.status for s in settlements}
    return [settled.get(sent.delivery_id, "gone") for sent, _ in results]


def settlement(
    sent: Outgoing, result: AttemptResult, *, at: datetime, max_attempts: int, backoff_s: float
) -> Settlement:
    if result.accepted:
        return Settlement(sent.delivery_id, sent.attempts, "delivered", None, None)
    if sent.attempts >= max_attempts:
        return Settlement(sent.delivery_id, sent.attempts, "dead", result.error, None)
    delay = webhooks.next_attempt_delay(sent.attempts, base_s=backoff_s, retry_after_s=result.retry_after_s)
    return Settlement(sent.delivery_id, sent.attempts, "pending", result.error, at + delay)
