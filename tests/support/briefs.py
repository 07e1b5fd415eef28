"""The events routing builds a lead's brief from, as scoring and ingest emit them."""

from __future__ import annotations

import uuid
from datetime import datetime

from shared.contracts import (
    ActivityRecorded,
    ActivityRecordedPayload,
    FiredRule,
    LeadIngested,
    LeadIngestedPayload,
    LeadScored,
    LeadScoredPayload,
    utc_now,
)

# Rules of the starter rubric (services/scoring/rubrics/starter.yaml), as scoring reports them.
FIRED = [
    FiredRule(rule_id="title-executive", kind="fit", points=25, reason="Executive or vice-president title"),
    FiredRule(
        rule_id="company-size-mid-market", kind="fit", points=20, reason="Company of 200 to 4,999 employees"
    ),
    FiredRule(rule_id="hand-raiser-form", kind="engagement", points=30, reason="Asked to talk to sales"),
]


def scored(lead_id: uuid.UUID, score: float = 75.0, *, at: datetime | None = None) -> LeadScored:
    payload = LeadScoredPayload(
        rubric_version="2026.11-starter",
        score=score,
        fit_score=45.0,
        engagement_score=score - 45.0,
        grade="A",
        is_mql=True,
        fired_rules=FIRED,
    )
    return LeadScored.new(lead_id=lead_id, producer="scoring", payload=payload, occurred_at=at)


def form_filled(
    lead_id: uuid.UUID, *, form_id: str = "demo-request", hand_raiser: bool = True, at: datetime | None = None
) -> LeadIngested:
    payload = LeadIngestedPayload(
        source="form",
        form_id=form_id,
        email=f"{lead_id}@example.com",
        first_name="Grace",
        last_name="Hopper",
        company="Analytical",
        job_title="CTO",
        company_size=1200,
        is_hand_raiser=hand_raiser,
        utm={"campaign": "q4-launch", "source": "linkedin"},
        attributes={"timeline": "this quarter"},
        submitted_at=at or utc_now(),
    )
    return LeadIngested.new(lead_id=lead_id, producer="ingest", payload=payload)


def visited(
    lead_id: uuid.UUID, path: str = "/pricing", *, campaign: str | None = "spring-sale"
) -> ActivityRecorded:
    properties = {"page_path": path, "url": f"https://example.com{path}"}
    if campaign:
        properties["utm.campaign"] = campaign
    payload = ActivityRecordedPayload(
        activity_type="page_view",
        occurred_at=utc_now(),
        email=f"{lead_id}@example.com",
        source="web",
        properties=properties,
    )
    return ActivityRecorded.new(lead_id=lead_id, producer="ingest", payload=payload)
