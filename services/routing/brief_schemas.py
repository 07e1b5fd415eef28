"""The lead brief as the API answers it: why the lead qualified, what it answered, what it did."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class FiredRuleRead(BaseModel):
    rule_id: str
    kind: str = Field(description="fit, engagement, negative or qualification.")
    points: float
    reason: str = Field(description="The rule, in the rubric's own words.")


class ActivityRead(BaseModel):
    activity_type: str = Field(
        description="page_view, content_download, webinar_attended, form_submission, ..."
    )
    occurred_at: datetime
    subject: str | None = Field(default=None, description="The page path, the form, the webinar.")
    campaign: str | None = None


class LeadBriefRead(BaseModel):
    """What a rep needs to know in ten seconds: why the lead matters and what to say."""

    lead_id: uuid.UUID
    score: float | None = None
    grade: str | None = None
    sla_tier: str | None = None
    rubric_version: str | None = None
    why: list[FiredRuleRead] = Field(
        default_factory=list, description="The rubric rules that fired, most points first."
    )
    form_answers: dict[str, Any] = Field(default_factory=dict)
    timeline: list[ActivityRead] = Field(default_factory=list, description="Newest first.")
