"""Routing's tables for what leaves Baton after an assignment: signed webhook deliveries to any
tool, and the owner written back into the team's CRM. Each row is written in the transaction
that consumed the event and delivered later by `worker_outbound`, so routing never waits on them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.routing.base import Base

DELIVERY_STATUSES = ("pending", "delivered", "dead")
# `failed`: the last attempt failed and another is scheduled; `dead`: attempts are used up.
CRM_SYNC_STATES = ("pending", "synced", "failed", "dead")


class WebhookSubscription(Base):
    """A URL that receives the chosen event types, optionally only for some reps or pools.

    `previous_secret` still signs (beside `secret`) until `previous_secret_expires_at`, so a
    receiver can switch secrets without losing a delivery."""

    __tablename__ = "webhook_subscription"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    rep_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    pools: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One event for one subscription; `body` is serialized once so every attempt (and a
    resend) carries the same bytes, and its id is the `webhook-id` receivers deduplicate on."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_delivery_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        CheckConstraint(f"status IN {DELIVERY_STATUSES}", name="status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscription.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(String(64))
    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttempt(Base):
    """Every call made for a delivery, kept for the subscriber's audit."""

    __tablename__ = "webhook_attempt"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)


class RepCrmIdentity(Base):
    """A rep's user id in a CRM (a HubSpot owner id, a Salesforce User id)."""

    __tablename__ = "rep_crm_identity"

    rep_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    crm: Mapped[str] = mapped_column(String(32), primary_key=True)
    crm_user_id: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CrmSync(Base):
    """The owner write-back of one lead into one CRM: who should own it, the CRM's record id
    once known, and how far the sync got. A reassignment bumps `generation`, so an attempt
    started for the previous holder cannot mark the new one synced."""

    __tablename__ = "crm_sync"
    __table_args__ = (
        Index("ix_crm_sync_due", "next_attempt_at", postgresql_where=text("state IN ('pending', 'failed')")),
        Index("ix_crm_sync_state", "state"),
        CheckConstraint(f"state IN {CRM_SYNC_STATES}", name="state_known"),
    )

    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    crm: Mapped[str] = mapped_column(String(32), primary_key=True)
    assignment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    rep_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    crm_user_id: Mapped[str] = mapped_column(String(64))
    lead: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(16))
    generation: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    record_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
