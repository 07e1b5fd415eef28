"""Feedback's tables, in the `feedback` schema."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Computed, DateTime, Float, Index, Integer, Numeric, Text, false, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Mapped, mapped_column

from services.feedback.funnel import Stage
from shared.audit import audit_table
from shared.db import service_metadata
from shared.outbox import outbox_table, processed_event_table

SCHEMA = "feedback"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class LeadFact(Base):
    """One row per lead, folded from every event about it, whatever order they arrive in.

    Stage timestamps keep the earliest value seen; attributes tied to a stage (source and UTM
    to the first ingestion, rep and SLA to the first assignment, a reason to the first
    rejection or loss) follow the earliest event of that stage; the score follows the latest
    scoring. So a replay from the start, in any interleaving, rebuilds the same row.
    `rubric_version`/`grade` are the latest scoring's, `mql_rubric_version`/`mql_grade` those
    of the scoring that qualified the lead (the verdict that sent it to sales), and
    `ingest_rubric_version` that of its earliest scoring (the version active when it arrived).
    """

    __tablename__ = "lead_fact"

    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)

    ingested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    mql_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_touch_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The first real contact: a logged call, email or meeting (a click to accept is none).
    first_contact_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sql_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    won_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lost_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recycled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    source: Mapped[str | None] = mapped_column(Text)
    form_id: Mapped[str | None] = mapped_column(Text)
    campaign: Mapped[str | None] = mapped_column(Text)
    utm: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The fields a rubric may test, as first ingested (never names, email or phone): what rule
    # discovery reads. `attributes.<name>` keys are the form's own answers.
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    score: Mapped[float | None] = mapped_column(Float)
    grade: Mapped[str | None] = mapped_column(Text)
    rubric_version: Mapped[str | None] = mapped_column(Text)
    scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ingest_rubric_version: Mapped[str | None] = mapped_column(Text)
    # The latest scoring's fired rules ({rule_id, kind, points}): the features rubric tuning uses.
    fired_rules: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    is_test: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    mql_grade: Mapped[str | None] = mapped_column(Text)
    mql_rubric_version: Mapped[str | None] = mapped_column(Text)
    # The agreement's persona (the latest scoring's), and the way back: the latest re-MQL of a
    # lead sales handed back to nurture, and its round (`mql_at` stays the first qualification).
    persona: Mapped[str | None] = mapped_column(Text)
    re_mql_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    qualification_round: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)

    rep_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    assignment_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    sla_tier: Mapped[str | None] = mapped_column(Text)
    sla_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Derived by Postgres so it can never disagree with the two timestamps it compares.
    sla_met: Mapped[bool | None] = mapped_column(
        Boolean, Computed("first_touch_at <= sla_due_at", persisted=True)
    )

    reject_reason: Mapped[str | None] = mapped_column(Text)
    loss_reason: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Numeric)
    currency: Mapped[str | None] = mapped_column(Text)  # ISO 4217 code of `amount`


class Agreement(Base):
    """An activated agreement's terms as `rubric.activated` carried them; the latest is in force."""

    __tablename__ = "agreement"

    rubric_version: Mapped[str] = mapped_column(Text, primary_key=True)
    terms: Mapped[dict[str, Any]] = mapped_column(JSONB)
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AgreementDrift(Base):
    """A drift proposal: measured rates outside the intervals the agreement in force was planned
    with, and the revised plan for both teams. At most one is `open`; a later check updates it,
    a new agreement supersedes it, and it is `resolved` when the rates come back."""

    __tablename__ = "agreement_drift"
    __table_args__ = (
        Index("uq_agreement_drift_open", "status", unique=True, postgresql_where=text("status = 'open'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    rubric_version: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    drifted: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    rates: Mapped[dict[str, Any]] = mapped_column(JSONB)
    mql_commitment_before: Mapped[int | None] = mapped_column(Integer)
    mql_commitment_after: Mapped[int | None] = mapped_column(Integer)


class LeadAttempt(Base):
    """A rep's contact attempt on a lead (a logged touch), kept by its own facts: a touch
    redelivered or replayed is stored once, so counting attempts never double-counts."""

    __tablename__ = "lead_attempt"

    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    touched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    channel: Mapped[str] = mapped_column(Text, primary_key=True)


class LeadTouchpoint(Base):
    """A marketing touch of one lead: its ingestion, or an activity that carried campaign or UTM
    data. `touch_key` digests the touch's own facts (not the event id), so the same touch
    redelivered under a new event id, or replayed, is stored once; order comes from
    `occurred_at` at read time, so arrival order never matters."""

    __tablename__ = "lead_touchpoint"

    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    touch_key: Mapped[str] = mapped_column(Text, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    medium: Mapped[str | None] = mapped_column(Text)
    campaign: Mapped[str | None] = mapped_column(Text)
    ad: Mapped[str | None] = mapped_column(Text)
    utm: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


outbox = outbox_table(Base.metadata)
processed_event = processed_event_table(Base.metadata)
audit = audit_table(Base.metadata)


# The column that records when a lead reached each funnel stage.
STAGE_COLUMNS: Mapping[Stage, InstrumentedAttribute[datetime | None]] = {
    Stage.INGESTED: LeadFact.ingested_at,
    Stage.MQL: LeadFact.mql_at,
    Stage.ASSIGNED: LeadFact.assigned_at,
    Stage.ACCEPTED: LeadFact.accepted_at,
    Stage.REJECTED: LeadFact.rejected_at,
    Stage.SQL: LeadFact.sql_at,
    Stage.WON: LeadFact.won_at,
    Stage.LOST: LeadFact.lost_at,
    Stage.RECYCLED: LeadFact.recycled_at,
}
