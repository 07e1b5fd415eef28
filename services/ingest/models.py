"""Ingest's tables, in the `ingest` schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Index, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.audit import audit_table
from shared.db import service_metadata
from shared.outbox import outbox_table

SCHEMA = "ingest"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Lead(Base):
    """One person, identified by a match key derived from the email, else the phone number, else
    the platform's lead id (see `identity.lead_identity`).

    `email` is the address as the person last typed it (trimmed, lower-cased), so a match on the
    canonical key stays reversible; `erased_at` marks a lead whose personal data was removed.
    """

    __tablename__ = "lead"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    match_key: Mapped[str] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(50), index=True)
    first_touch: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("account.id"))


class Account(Base):
    """A company, known by its email domain; leads from that domain attach to it."""

    __tablename__ = "account"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Submission(Base):
    """Every accepted submission, with the event it produced; the idempotency record too.

    Webhook deliveries use `<provider>:<platform lead id>` as their idempotency key.
    """

    __tablename__ = "submission"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lead.id"), index=True)
    form_id: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(50), server_default="form")
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONB)
    touch: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Form(Base):
    """A configured web form: how its fields map onto a lead, and who may post it."""

    __tablename__ = "form"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    field_map: Mapped[dict[str, str]] = mapped_column(JSONB)
    utm_fields: Mapped[dict[str, str]] = mapped_column(JSONB)
    is_hand_raiser: Mapped[bool] = mapped_column(Boolean)
    allowed_origins: Mapped[list[str]] = mapped_column(JSONB)
    honeypot_field: Mapped[str | None] = mapped_column(String(100))
    success_url: Mapped[str | None] = mapped_column(String(2000))
    allow_return_url: Mapped[bool] = mapped_column(Boolean, server_default="false")
    value_transforms: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Source(Base):
    """A system allowed to post, known by the SHA-256 of its API key: activity events as this
    source, or, when `form_ids` is set, submissions of those forms only."""

    __tablename__ = "source"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    form_ids: Mapped[list[str] | None] = mapped_column(JSONB)
    rate_limit_per_minute: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Visitor(Base):
    """A browser (cookie or HubSpot `hutk`) and, once a form revealed them, the lead behind it.

    `decision` records why the link was made, so a wrong link can be found and undone.
    """

    __tablename__ = "visitor"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lead.id"), index=True)
    decision: Mapped[str | None] = mapped_column(String(32))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    linked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Activity(Base):
    """Every accepted activity. Anonymous ones wait here, `event_id` null, until stitched."""

    __tablename__ = "activity"
    __table_args__ = (Index("ix_activity_visitor_id_unpublished", "visitor_id", "event_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(String(100))
    visitor_id: Mapped[str | None] = mapped_column(String(200))
    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lead.id"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    properties: Mapped[dict[str, str]] = mapped_column(JSONB)
    event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), unique=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class QuarantinedDelivery(Base):
    """An authenticated delivery that could not be mapped to a lead, kept whole (its raw body and
    the request parameters its parser reads) with the reason, until it is replayed."""

    __tablename__ = "quarantined_delivery"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    source: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    params: Mapped[dict[str, str]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lead_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class RateLimitWindow(Base):
    """Form posts one client made in one fixed window, summed over every replica
    (`shared_rate_limit.SharedWindowLimit`); windows that ended are pruned by the worker."""

    __tablename__ = "rate_limit_window"

    client_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, index=True)
    count: Mapped[int] = mapped_column(BigInteger)


class LeadKey(Base):
    """The key a lead's personal fields are sealed with in events (`shared.sealing`): issued with
    its first event on `lead.key_changed`, deleted by its erasure (docs/erasure.md)."""

    __tablename__ = "lead_key"

    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


outbox = outbox_table(Base.metadata)
audit = audit_table(Base.metadata)
