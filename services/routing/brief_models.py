"""Routing's read model of what a rep needs to know about a lead: why it qualified (the rubric
rules that fired), its form answers and what it did (the activity timeline). Built from scoring's
and ingest's events, so routing never asks another service when a rep opens a lead."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Double, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.routing.base import Base


class LeadBrief(Base):
    """One lead's latest score explanation and form answers; rows appear with the first event."""

    __tablename__ = "lead_brief"

    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    score: Mapped[float | None] = mapped_column(Double)
    grade: Mapped[str | None] = mapped_column(String(16))
    rubric_version: Mapped[str | None] = mapped_column(String(64))
    # [{rule_id, kind, points, reason}] from the latest `lead.scored`.
    fired_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # When the explanation above was computed: an older `lead.scored` arriving late never wins.
    scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    form_answers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LeadActivity(Base):
    """One thing a lead did (a page view, a download, a webinar, a form fill), keyed by the event
    that reported it so a redelivery adds nothing."""

    __tablename__ = "lead_activity"
    __table_args__ = (Index("ix_lead_activity_lead_occurred", "lead_id", "occurred_at"),)

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    activity_type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # What it was about, readable: the page path, the form id, the webinar's name.
    subject: Mapped[str | None] = mapped_column(Text)
    campaign: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB)
