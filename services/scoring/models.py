"""Scoring's tables, in the `scoring` schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSON, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.audit import audit_table
from shared.db import service_metadata
from shared.outbox import outbox_table, processed_event_table

SCHEMA = "scoring"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class LeadProfile(Base):
    """What scoring knows about a lead: the latest non-null value of each field, and whether
    (and when) it first qualified. `qualified_at` is set once, ever; a re-MQL is `requalified_at`."""

    __tablename__ = "lead_profile"

    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(300))
    job_title: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(100))
    company_size: Mapped[int | None] = mapped_column(Integer)
    industry: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(100))
    consent: Mapped[bool | None] = mapped_column(Boolean)
    utm: Mapped[dict[str, str]] = mapped_column(JSONB)
    attributes: Mapped[dict[str, str]] = mapped_column(JSONB)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    qualified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    qualification_reason: Mapped[str | None] = mapped_column(String(32))
    qualified_rubric_version: Mapped[str | None] = mapped_column(String(64))
    # The way back: when sales handed the lead back to nurture (recycled, or unresponsive) and
    # why; its latest re-qualification (`qualified_at` stays the first), and its qualifications
    # so far (1 for the first, 2 after its first re-MQL, ...).
    requalified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_to_nurture_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    nurture_reason: Mapped[str | None] = mapped_column(String(200))
    qualification_round: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class LeadActivity(Base):
    """Something a lead did, recorded once per event that reported it."""

    __tablename__ = "activity"
    __table_args__ = (Index("ix_activity_lead_id_occurred_at", "lead_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lead_profile.lead_id"))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    properties: Mapped[dict[str, str]] = mapped_column(JSONB)


class Score(Base):
    """Every score computed for a lead (the history), with its explanation and rubric version."""

    __tablename__ = "score"
    __table_args__ = (Index("ix_score_lead_id_id", "lead_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lead_profile.lead_id"))
    event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    rubric_version: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    fit_score: Mapped[float] = mapped_column(Float)
    engagement_score: Mapped[float] = mapped_column(Float)
    grade: Mapped[str] = mapped_column(String(16))
    is_mql: Mapped[bool] = mapped_column(Boolean)
    # `json`, not `jsonb`: kept as the text `lead.scored` carries, never queried into, and
    # converting every score's explanation to jsonb cost the database about a sixth of the
    # consumer's write statement (issue 19).
    fired_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Disposition(Base):
    """Outcomes sales recorded for a lead (from routing's `lead.dispositioned`), for backtests."""

    __tablename__ = "disposition"
    __table_args__ = (Index("ix_disposition_lead_id", "lead_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    outcome: Mapped[str] = mapped_column(String(32))
    dispositioned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RubricRecord(Base):
    """A rubric version: a draft while it is edited and approved, then active, then retired.
    At most one is active; with none, scoring uses the rubric file it was configured with."""

    __tablename__ = "rubric"
    __table_args__ = (
        Index("uq_rubric_one_active", "status", unique=True, postgresql_where=text("status = 'active'")),
    )

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    shadow: Mapped[bool] = mapped_column(Boolean, server_default=false())


class RubricApproval(Base):
    """One team's signature on a draft; editing the draft removes them."""

    __tablename__ = "rubric_approval"

    version: Mapped[str] = mapped_column(ForeignKey("rubric.version", ondelete="CASCADE"), primary_key=True)
    team: Mapped[str] = mapped_column(String(16), primary_key=True)
    approver: Mapped[str] = mapped_column(String(255))
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RescoreRun(Base):
    """Re-scoring every known lead, after an activation or as the periodic decay pass; one runs
    at a time, and `cursor` lets any replica resume it. The version may be the configured
    rubric file's, which has no `rubric` row, hence no foreign key."""

    __tablename__ = "rescore_run"
    __table_args__ = (
        Index(
            "uq_rescore_run_one_running", "status", unique=True, postgresql_where=text("status = 'running'")
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    rubric_version: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer)
    newly_qualified: Mapped[int] = mapped_column(Integer)
    cursor: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ShadowScore(Base):
    """A draft's score of live traffic, recorded next to the real one and never published."""

    __tablename__ = "shadow_score"
    __table_args__ = (
        UniqueConstraint("rubric_version", "event_id"),
        Index("ix_shadow_score_rubric_version_lead_id", "rubric_version", "lead_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    rubric_version: Mapped[str] = mapped_column(ForeignKey("rubric.version", ondelete="CASCADE"))
    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    score: Mapped[float] = mapped_column(Float)
    grade: Mapped[str] = mapped_column(String(16))
    is_mql: Mapped[bool] = mapped_column(Boolean)
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


outbox = outbox_table(Base.metadata)
processed_event = processed_event_table(Base.metadata)
audit = audit_table(Base.metadata)
