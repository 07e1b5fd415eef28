"""What a score leaves behind: the stored row and the events it publishes, built the same way
whether one event or a consumer's whole batch is being scored."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from pydantic_core import from_json, to_json

from services.scoring.evaluation import Evaluation
from shared.contracts import (
    Envelope,
    LeadQualified,
    LeadQualifiedPayload,
    LeadScored,
    LeadScoredPayload,
    LeadSnapshot,
    utc_now,
)

PRODUCER = "scoring"
# Routing's fields ride in the profile's attributes: scoring only passes them on to routing.
ROUTING_FIELDS = ("state", "language", "product_interest", "account_id", "account_owner_id")


class QualifiedProfile(Protocol):
    """What `lead.qualified` tells routing about the lead: a stored profile or a merge's result."""

    @property
    def lead_id(self) -> uuid.UUID: ...
    @property
    def email(self) -> str | None: ...
    @property
    def first_name(self) -> str | None: ...
    @property
    def last_name(self) -> str | None: ...
    @property
    def company(self) -> str | None: ...
    @property
    def country(self) -> str | None: ...
    @property
    def job_title(self) -> str | None: ...
    @property
    def company_size(self) -> int | None: ...
    @property
    def industry(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...
    @property
    def attributes(self) -> dict[str, str]: ...
    @property
    def qualified_at(self) -> datetime | None: ...


def score_row(
    lead_id: uuid.UUID,
    evaluation: Evaluation,
    *,
    caused_by: Envelope | None,
    fired_rules: bool = True,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The `score` row of an evaluation: its numbers, its explanation, its rubric version;
    without the explanation (`fired_rules=False`) for a writer that takes it from the event;
    `created_at` by default now."""
    row = {
        "lead_id": lead_id,
        "event_id": caused_by.event_id if caused_by else None,
        "rubric_version": evaluation.rubric_version,
        "score": evaluation.score,
        "fit_score": evaluation.fit_score,
        "engagement_score": evaluation.engagement_score,
        "grade": evaluation.grade,
        "is_mql": evaluation.is_mql,
        "fired_rules": [r.model_dump(mode="json") for r in evaluation.fired_rules] if fired_rules else None,
        "scored_at": evaluation.evaluated_at,
        "created_at": created_at or utc_now(),
    }
    if not fired_rules:
        del row["fired_rules"]
    return row


def scored_event(
    lead_id: uuid.UUID, evaluation: Evaluation, *, caused_by: Envelope | None, persona: str | None = None
) -> LeadScored:
    payload = LeadScoredPayload(
        persona=persona,
        rubric_version=evaluation.rubric_version,
        score=evaluation.score,
        fit_score=evaluation.fit_score,
        engagement_score=evaluation.engagement_score,
        grade=evaluation.grade,
        is_mql=evaluation.is_mql,
        fired_rules=evaluation.fired_rules,
    )
    return LeadScored.new(lead_id=lead_id, payload=payload, producer=PRODUCER, caused_by=caused_by)


def fired_rules_json(scored: bytes) -> str:
    """The `fired_rules` of an encoded `lead.scored`, as the JSON text it holds them in, for the
    score row. A slice, not a second encoding: the payload's last field, `persona`, follows the
    list, and no key can occur inside a JSON string (its quotes are escaped there)."""
    start = scored.find(b'"fired_rules":') + len(b'"fired_rules":')
    end = scored.rfind(b',"persona":')
    if (
        start < len(b'"fired_rules":')
        or end < start
        or scored[start : start + 1] != b"["
        or scored[end - 1 : end] != b"]"
    ):
        return to_json(from_json(scored)["payload"]["fired_rules"]).decode()
    return scored[start:end].decode()


def qualified_event(
    profile: QualifiedProfile,
    evaluation: Evaluation,
    *,
    caused_by: Envelope | None,
    source: str | None,
    form_id: str | None,
    persona: str | None = None,
    round_: int = 1,
) -> LeadQualified:
    """`lead.qualified`, with the snapshot of the lead that routing routes on; `round_` above 1
    is a re-MQL: the lead came back from nurture and qualified again."""
    assert evaluation.qualification_reason is not None
    payload = LeadQualifiedPayload(
        persona=persona,
        requalification=round_ > 1,
        round=round_,
        rubric_version=evaluation.rubric_version,
        score=evaluation.score,
        grade=evaluation.grade,
        reason=evaluation.qualification_reason,
        sla_tier=evaluation.sla_tier,
        sla_minutes=evaluation.sla_minutes,
        qualified_at=evaluation.evaluated_at,
        lead=LeadSnapshot(
            email=profile.email,
            first_name=profile.first_name,
            last_name=profile.last_name,
            company=profile.company,
            country=profile.country,
            source=source,
            form_id=form_id,
            job_title=profile.job_title,
            company_size=profile.company_size,
            industry=profile.industry,
            grade=evaluation.grade,
            **routing_fields(profile),
        ),
    )
    return LeadQualified.new(lead_id=profile.lead_id, payload=payload, producer=PRODUCER, caused_by=caused_by)


def routing_fields(profile: QualifiedProfile) -> dict[str, str]:
    return {name: profile.attributes[name] for name in ROUTING_FIELDS if profile.attributes.get(name)}
