"""A lead brief's stored rows, read as the API and the notices show them. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from services.routing.brief_models import LeadActivity, LeadBrief
from services.routing.brief_schemas import ActivityRead, FiredRuleRead, LeadBriefRead


def brief_read(
    lead_id: uuid.UUID,
    brief: LeadBrief | None,
    timeline: Sequence[LeadActivity],
    *,
    qualification: Mapping[str, Any],
) -> LeadBriefRead:
    """The brief; grade and score fall back on the verdict the lead was routed on (`qualification`)
    until scoring's explanation has been read."""
    score = brief.score if brief is not None else None
    if score is None and isinstance(qualification.get("score"), int | float):
        score = float(qualification["score"])
    grade = (brief.grade if brief is not None else None) or qualification.get("grade")
    fired = sorted(brief.fired_rules if brief is not None else [], key=lambda r: -abs(float(r["points"])))
    tier = qualification.get("sla_tier")
    return LeadBriefRead(
        lead_id=lead_id,
        score=score,
        grade=str(grade) if grade else None,
        sla_tier=str(tier) if tier else None,
        rubric_version=brief.rubric_version if brief is not None else None,
        why=[FiredRuleRead.model_validate(rule) for rule in fired],
        form_answers=brief.form_answers if brief is not None else {},
        timeline=[
            ActivityRead(
                activity_type=a.activity_type,
                occurred_at=a.occurred_at,
                subject=a.subject,
                campaign=a.campaign,
            )
            for a in timeline
        ],
    )
