"""Payloads and event classes for every event type, parsed as one discriminated union.

Versioning: an additive change keeps `schema_version`; a breaking change bumps it and adds an
upcaster to `UPCASTERS` that turns the old JSON into the new shape before validation.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from shared.contracts.envelope import Envelope, Payload

Outcome = Literal["accepted", "rejected", "sql", "won", "lost"]
QualificationReason = Literal["threshold", "hand_raiser"]


class LeadIngestedPayload(Payload):
    source: str = Field(description="Where the lead came from: 'form', or a webhook provider name.")
    form_id: str | None = None
    email: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    job_title: str | None = None
    phone: str | None = None
    country: str | None = None
    company_size: int | None = None
    industry: str | None = None
    consent: bool | None = None
    is_hand_raiser: bool = False
    utm: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, str] = Field(default_factory=dict)
    submitted_at: datetime


class FiredRule(Payload):
    rule_id: str
    kind: Literal["fit", "engagement", "negative", "qualification"]
    points: float
    reason: str
    decay_factor: float = 1.0


class LeadScoredPayload(Payload):
    rubric_version: str
    score: float
    fit_score: float
    engagement_score: float
    grade: str
    is_mql: bool
    fired_rules: list[FiredRule] = Field(default_factory=list)


class LeadSnapshot(Payload):
    """What routing needs to know about a lead without asking another service."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    country: str | None = None
    source: str | None = None
    form_id: str | None = None
    job_title: str | None = None
    company_size: int | None = None
    industry: str | None = None
    grade: str | None = None


class LeadQualifiedPayload(Payload):
    rubric_version: str
    score: float
    grade: str
    reason: QualificationReason
    sla_tier: str
    sla_minutes: int
    qualified_at: datetime
    lead: LeadSnapshot


class LeadAssignedPayload(Payload):
    assignment_id: uuid.UUID
    rep_id: uuid.UUID
    rep_name: str
    strategy: str
    sla_tier: str
    sla_due_at: datetime
    assigned_at: datetime
    qualified_at: datetime


class LeadDispositionedPayload(Payload):
    assignment_id: uuid.UUID
    rep_id: uuid.UUID
    outcome: Outcome
    reason: str | None = None
    amount: Decimal | None = None
    dispositioned_at: datetime


TouchChannel = Literal["call", "email", "meeting", "social", "other"]


class LeadTouchedPayload(Payload):
    assignment_id: uuid.UUID
    rep_id: uuid.UUID
    channel: TouchChannel = "other"
    note: str | None = None
    touched_at: datetime


class RubricActivatedPayload(Payload):
    rubric_version: str
    previous_version: str | None = None
    approved_by: dict[str, str] = Field(default_factory=dict, description="team -> approver")
    activated_at: datetime


class LeadIngested(Envelope):
    """Emitted by ingest when a submission is accepted: validated, normalized, de-duplicated."""

    event_type: Literal["lead.ingested"] = "lead.ingested"
    payload: LeadIngestedPayload


class LeadScored(Envelope):
    """Emitted by scoring every time a lead's score is computed, with the rules that fired."""

    event_type: Literal["lead.scored"] = "lead.scored"
    payload: LeadScoredPayload


class LeadQualified(Envelope):
    """Emitted by scoring once, when a lead first meets the rubric's MQL definition."""

    event_type: Literal["lead.qualified"] = "lead.qualified"
    payload: LeadQualifiedPayload


class LeadAssigned(Envelope):
    """Emitted by routing when a qualified lead is assigned to a rep and its SLA clock starts."""

    event_type: Literal["lead.assigned"] = "lead.assigned"
    payload: LeadAssignedPayload


class LeadDispositioned(Envelope):
    """Emitted by routing when a rep records an outcome for an assignment."""

    event_type: Literal["lead.dispositioned"] = "lead.dispositioned"
    payload: LeadDispositionedPayload


class LeadTouched(Envelope):
    """Emitted by routing when a rep records a contact attempt on an assigned lead; the first
    touch stops the SLA clock."""

    event_type: Literal["lead.touched"] = "lead.touched"
    payload: LeadTouchedPayload


class RubricActivated(Envelope):
    """Emitted by scoring when a rubric that both teams approved becomes the active one.

    Not about one lead: it carries `NO_LEAD` as its lead id, so every rubric event shares one
    partition and keeps its order.
    """

    event_type: Literal["rubric.activated"] = "rubric.activated"
    payload: RubricActivatedPayload


AnyEvent = Annotated[
    LeadIngested
    | LeadScored
    | LeadQualified
    | LeadAssigned
    | LeadTouched
    | LeadDispositioned
    | RubricActivated,
    Field(discriminator="event_type"),
]

# The lead id of events that concern no single lead (the nil UUID).
NO_LEAD = uuid.UUID(int=0)

CURRENT_VERSIONS: dict[str, int] = {
    "lead.ingested": 1,
    "lead.scored": 1,
    "lead.qualified": 1,
    "lead.assigned": 1,
    "lead.touched": 1,
    "lead.dispositioned": 1,
    "rubric.activated": 1,
}
