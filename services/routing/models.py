"""Routing's tables, in the `routing` schema."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.routing.base import SCHEMA as SCHEMA
from services.routing.base import Base as Base
from shared.audit import audit_table
from shared.outbox import outbox_table, processed_event_table

# `queued`: handed back with nobody to take it, waiting in the fallback queue; `recycled`: back to nurture.
ASSIGNMENT_STATUSES = ("open", "accepted", "rejected", "sql", "won", "lost", "recycled", "queued")
TIMER_KINDS = ("reminder", "breach", "contact", "accept", "accept_reminder")
TIMER_OUTCOMES = ("breached", "moot", "reminded", "cancelled")
NOTIFICATION_STATUSES = ("pending", "sent", "failed", "unsent")
# `team`: the team's webhook; `slack` and `email`: one rep, on the channel they chose.
NOTIFICATION_CHANNELS = ("team", "slack", "email")


class Rep(Base):
    """A sales rep who can receive leads."""

    __tablename__ = "rep"
    __table_args__ = (CheckConstraint("weight >= 1", name="weight_positive"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    active: Mapped[bool] = mapped_column(Boolean)
    weight: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    skills: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    work_start: Mapped[time | None] = mapped_column(Time)
    work_end: Mapped[time | None] = mapped_column(Time)
    work_days: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))
    max_open: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    max_per_day: Mapped[int | None] = mapped_column(Integer)
    manager_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # Set when the SLA policy switched the rep off; cleared when a manager switches them back on.
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # Where the rep is told of their leads (`notify_channels`: "slack", "email"): their own Slack
    # incoming webhook, else the team's with `slack_user_id` mentioned; email goes to `email`.
    slack_webhook_url: Mapped[str | None] = mapped_column(Text)
    slack_user_id: Mapped[str | None] = mapped_column(String(32))
    notify_channels: Mapped[list[str]] = mapped_column(
        ARRAY(String(16)), server_default=text("'{}'::varchar[]")
    )


class RepAbsence(Base):
    """An out-of-office range: the rep gets no leads between `starts_at` and `ends_at`."""

    __tablename__ = "rep_absence"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    rep_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rep.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)


class RepLedger(Base):
    """The fairness ledger of each pool: a rep's credited assignments in it against their weight.
    A rep in two pools has a line in each; `weight` is the weight the credit was counted at."""

    __tablename__ = "rep_ledger"

    pool: Mapped[str] = mapped_column(String(100), primary_key=True)
    rep_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rep.id"), primary_key=True, index=True)
    weight: Mapped[int | None] = mapped_column(Integer)
    assigned: Mapped[int] = mapped_column(Integer)
    credit: Mapped[float] = mapped_column(Double)
    last_assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_share: Mapped[float | None] = mapped_column(Double)


class RepDayCount(Base):
    """New assignments a rep received on one day of their own calendar: the daily cap's count."""

    __tablename__ = "rep_day_count"

    rep_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rep.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    assigned: Mapped[int] = mapped_column(Integer)


class RuleSetRecord(Base):
    """A routing rule set version: a draft, then active, then retired. Documents never change.
    At most one is active; with none, routing uses the rule set file it was configured with."""

    __tablename__ = "rule_set"
    __table_args__ = (
        Index("uq_rule_set_one_active", "status", unique=True, postgresql_where=text("status = 'active'")),
        CheckConstraint("status IN ('draft', 'active', 'retired')", name="status_known"),
    )

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Assignment(Base):
    """The one assignment of a qualified lead to a rep, with its SLA clock and decision trace."""

    __tablename__ = "assignment"
    __table_args__ = (CheckConstraint(f"status IN {ASSIGNMENT_STATUSES}", name="status_known"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    rep_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rep.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    sla_tier: Mapped[str] = mapped_column(String(64))
    sla_minutes: Mapped[int] = mapped_column(Integer)
    sla_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sla_breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    qualified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_touch_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lead: Mapped[dict[str, Any]] = mapped_column(JSONB)
    strategy: Mapped[str] = mapped_column(String(64))
    decision: Mapped[dict[str, Any]] = mapped_column(JSONB)
    qualified_event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    correlation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    reassignments: Mapped[int] = mapped_column(Integer)
    # The first real contact (a logged call, email or meeting: accepting is not contact), the
    # attempts logged, and when the agreement's contact commitment was breached.
    first_contact_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    contact_breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The round's first attempt: the agreement's attempt window of business days runs from it.
    first_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Agreement(Base):
    """An activated agreement's terms as `rubric.activated` carried them; the latest is in force."""

    __tablename__ = "agreement"

    rubric_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    terms: Mapped[dict[str, Any]] = mapped_column(JSONB)
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SlaTimer(Base):
    """A durable SLA deadline for one rep's hold on an assignment; fires at most once.

    A `breach` timer is the first-touch deadline; a `reminder` timer fires at `fraction` of the
    target before it. Reminders are planned by the worker from the breach timer. `contact` and
    `accept` are the agreement's commitments (first real contact, accept or reject), and an
    `accept_reminder` fires halfway to `accept`; all three are scheduled when their clock starts.
    """

    __tablename__ = "sla_timer"
    __table_args__ = (
        Index("ix_sla_timer_pending", "due_at", postgresql_where=text("fired_at IS NULL")),
        Index(
            "ix_sla_timer_unplanned",
            "due_at",
            postgresql_where=text("kind = 'breach' AND NOT reminders_planned AND fired_at IS NULL"),
        ),
        Index("ix_sla_timer_breaches", "rep_id", "fired_at", postgresql_where=text("outcome = 'breached'")),
        CheckConstraint(f"outcome IN {TIMER_OUTCOMES}", name="outcome_known"),
        CheckConstraint(f"kind IN {TIMER_KINDS}", name="kind_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assignment.id"), index=True)
    rep_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="breach", server_default="breach")
    fraction: Mapped[float | None] = mapped_column(Double)
    reminders_planned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class Notification(Base):
    """A message for the team's webhook (Slack-compatible) or for one rep on a channel they chose,
    written in the transaction of what it announces and delivered at least once by the notifier;
    `unsent` when nothing is set up to carry it."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        CheckConstraint(f"status IN {NOTIFICATION_STATUSES}", name="status_known"),
        CheckConstraint(f"channel IN {NOTIFICATION_CHANNELS}", name="channel_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    lead_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    assignment_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    rep_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    manager_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    message: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str] = mapped_column(String(16), server_default=text("'team'"))
    # The rep's own Slack webhook or email address; None for the team's webhook.
    recipient: Mapped[str | None] = mapped_column(Text)


class Disposition(Base):
    """Every outcome recorded on an assignment, in order: the assignment keeps only the latest."""

    __tablename__ = "disposition"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assignment.id"), index=True)
    rep_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    outcome: Mapped[str] = mapped_column(String(16))
    # `reason` is readable (the note, else the code's label), as `lead.dispositioned` carries it.
    reason: Mapped[str | None] = mapped_column(Text)
    reason_code: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)


class Touch(Base):
    """A logged contact attempt (call, email, meeting); the first one stops the SLA clock."""

    __tablename__ = "touch"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assignment.id"), index=True)
    rep_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    channel: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    touched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Holiday(Base):
    """A day nobody works: the SLA clock does not run on it."""

    __tablename__ = "holiday"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class UnassignedLead(Base):
    """The fallback queue: qualified leads no rep could take yet. Kept until assigned."""

    __tablename__ = "unassigned_lead"

    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    event: Mapped[dict[str, Any]] = mapped_column(JSONB)
    pool: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(64))
    decision: Mapped[dict[str, Any]] = mapped_column(JSONB)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


outbox = outbox_table(Base.metadata)
audit = audit_table(Base.metadata)
processed_event = processed_event_table(Base.metadata)

# The outbound tables (webhooks, CRM write-back) and the lead brief's share this metadata; importing them here keeps
# one `Base.metadata` describing the whole schema for migrations and their test.
from services.routing import brief_models as brief_models  # noqa: E402
from services.routing import outbound_models as outbound_models  # noqa: E402
