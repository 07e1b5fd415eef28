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

from shared.contracts.agreement import AgreementTerms
from shared.contracts.envelope import Envelope, Payload
from shared.contracts.revisions import AgreementRevisionProposed

Outcome = Literal["accepted", "rejected", "sql", "won", "lost", "recycled"]
RejectReason = Literal[
    "bad_data",
    "not_our_icp",
    "no_budget",
    "no_authority",
    "no_need",
    "student",
    "competitor",
    "duplicate",
    "already_in_pipeline",
    "unresponsive",
]
LostReason = Literal["price", "competitor", "no_decision", "timing", "product_fit", "other"]

# What each reason code reads as in reports; the code is what they group by.
REASON_LABELS: dict[str, str] = {
    "bad_data": "bad data",
    "not_our_icp": "not our ICP",
    "no_budget": "no budget",
    "no_authority": "no authority",
    "no_need": "no need",
    "student": "student",
    "competitor": "competitor",
    "duplicate": "duplicate",
    "already_in_pipeline": "already in pipeline",
    "unresponsive": "unresponsive",
    "price": "price",
    "no_decision": "no decision",
    "timing": "timing",
    "product_fit": "product fit",
    "other": "other",
}
QualificationReason = Literal["threshold", "hand_raiser"]


class Touch(Payload):
    """One submission's attribution, kept whole: where that submission came from. A lead's
    touches are never merged: one touch's tag never lands on top of another's."""

    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None
    click_ids: dict[str, str] = Field(
        default_factory=dict, description="Ad click ids by name: gclid, fbclid, msclkid, li_fat_id..."
    )
    channel: str = Field(description="The submission's source: 'form', or a webhook provider name.")
    form_id: str | None = None
    occurred_at: datetime


class LeadIngestedPayload(Payload):
    source: str = Field(description="Where the lead came from: 'form', or a webhook provider name.")
    form_id: str | None = None
    email: str | None = Field(
        default=None,
        description="Null for a lead reachable only by phone, or known only by the platform's lead id.",
    )
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    job_title: str | None = None
    phone: str | None = None
    country: str | None = None
    company_size: int | None = None
    industry: str | None = None
    state: str | None = Field(default=None, description="State, province or county within the country.")
    language: str | None = Field(default=None, description="The language the lead wants to be served in.")
    product_interest: str | None = Field(default=None, description="The product the lead asked about.")
    consent: bool | None = None
    is_hand_raiser: bool = False
    utm: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, str] = Field(default_factory=dict)
    submitted_at: datetime = Field(
        description="When the lead submitted: the platform's own time when it gives one, else receipt."
    )
    received_at: datetime | None = Field(
        default=None, description="When Baton received it, when that differs from a platform's submitted_at."
    )
    is_test: bool = Field(default=False, description="A platform's test lead: keep out of reporting.")
    external_id: str | None = Field(default=None, description="The platform's own lead id.")
    visitor_id: str | None = Field(default=None, description="The browser the submission came from.")
    account_id: uuid.UUID | None = Field(
        default=None, description="The account the lead's company domain matched (free mail never does)."
    )
    account_owner_id: uuid.UUID | None = Field(default=None, description="That account's owner (a rep id).")
    first_touch: Touch | None = Field(default=None, description="The lead's first submission's touch.")
    latest_touch: Touch | None = Field(default=None, description="This submission's own touch.")
    # Added in schema version 1 (additive): older events carry their personal fields in clear.
    sealed: str | None = Field(
        default=None,
        description="`email`, `first_name`, `last_name` and `phone` as a JSON object, sealed with "
        "the lead's key (AES-256-GCM, `v1.` + base64url of nonce and ciphertext); those fields are "
        "then null. Erasure destroys the key (docs/erasure.md).",
    )


class ActivityRecordedPayload(Payload):
    activity_type: str = Field(description="page_view, content_download, webinar_attended, email_click, ...")
    occurred_at: datetime
    email: str = Field(description="The lead's normalized email, so a consumer can start a profile.")
    source: str = Field(description="The source (API key or token) that reported the activity.")
    visitor_id: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)
    stitched: bool = Field(
        default=False, description="Recorded anonymously and attributed to the lead later."
    )
    # Added in schema version 1 (additive): older events carry their personal fields in clear.
    sealed: str | None = Field(
        default=None,
        description="`email` as a JSON object, sealed with the lead's key (AES-256-GCM, `v1.` + "
        "base64url of nonce and ciphertext); `email` is then empty. Erasure destroys the key "
        "(docs/erasure.md).",
    )


class LeadErasedPayload(Payload):
    reason: str = Field(description="Why: 'request', or the platform that deleted the lead.")
    erased_at: datetime


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
    # Added in schema version 1 (additive): older events carry none.
    persona: str | None = Field(default=None, description="The agreement's first persona the lead matches.")


class LeadSnapshot(Payload):
    """What routing needs to know about a lead without asking another service."""

    email: str | None = Field(default=None, description="Null for a lead reachable only by phone.")
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
    state: str | None = None
    language: str | None = None
    product_interest: str | None = None
    account_id: uuid.UUID | None = Field(default=None, description="The account the lead matched.")
    account_owner_id: uuid.UUID | None = Field(default=None, description="That account's owner (a rep id).")
    # Added in schema version 1 (additive): older events carry their personal fields in clear.
    sealed: str | None = Field(
        default=None,
        description="`email`, `first_name` and `last_name` as a JSON object, sealed with the "
        "lead's key (AES-256-GCM, `v1.` + base64url of nonce and ciphertext); those fields are "
        "then null. Erasure destroys the key (docs/erasure.md).",
    )


class LeadQualifiedPayload(Payload):
    rubric_version: str
    score: float
    grade: str
    reason: QualificationReason
    sla_tier: str
    sla_minutes: int
    qualified_at: datetime
    lead: LeadSnapshot
    # Added in schema version 1 (additive): older events are first qualifications without persona.
    persona: str | None = Field(default=None, description="The agreement's first persona the lead matches.")
    requalification: bool = Field(
        default=False, description="A re-MQL: the lead came back from nurture and qualified again."
    )
    round: int = Field(
        default=1, ge=1, description="1 for the first qualification, 2 for the first re-MQL..."
    )


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
    reason: str | None = Field(
        default=None,
        description="Why, readable: the rep's note, else the label of `reason_code`.",
    )
    amount: Decimal | None = None
    dispositioned_at: datetime
    # Added in schema version 1 (additive): older events carry neither.
    reason_code: str | None = Field(
        default=None,
        description="A rejection's code (RejectReason) or a loss's (LostReason); plain text on the "
        "wire so a code added later never fails an older consumer.",
    )
    currency: str | None = Field(default=None, description="ISO 4217 code of `amount`.")
    # Added in schema version 1 (additive): older events carry the rep's note in clear.
    sealed: str | None = Field(
        default=None,
        description="`reason` as a JSON object, sealed with the lead's key (AES-256-GCM, `v1.` + "
        "base64url of nonce and ciphertext): a rep's note may quote the lead. `reason` is then "
        "null; `reason_code` stays in clear (docs/erasure.md).",
    )


TouchChannel = Literal["call", "email", "meeting", "social", "other"]


class LeadTouchedPayload(Payload):
    assignment_id: uuid.UUID
    rep_id: uuid.UUID
    channel: TouchChannel = "other"
    note: str | None = None
    touched_at: datetime
    # Added in schema version 1 (additive): older events carry the rep's note in clear.
    sealed: str | None = Field(
        default=None,
        description="`note` as a JSON object, sealed with the lead's key (AES-256-GCM, `v1.` + "
        "base64url of nonce and ciphertext): a rep's note may quote the lead. `note` is then "
        "null (docs/erasure.md).",
    )


class RubricActivatedPayload(Payload):
    rubric_version: str
    previous_version: str | None = None
    approved_by: dict[str, str] = Field(default_factory=dict, description="team -> approver")
    activated_at: datetime
    # Added in schema version 1 (additive): older activations carried the rubric alone.
    agreement: AgreementTerms | None = None


class SlaBreachedPayload(Payload):
    assignment_id: uuid.UUID
    rep_id: uuid.UUID
    sla_tier: str
    due_at: datetime
    breached_at: datetime
    reassigned_to: uuid.UUID | None = None
    # Added in schema version 1 (additive): older breaches were all of the first-touch SLA;
    # `accept` came later still (additive too).
    commitment: Literal["first_touch", "contact", "accept"] = Field(
        default="first_touch",
        description=(
            "Which commitment: the first touch, the agreement's first real contact, or its time to "
            "accept or reject the lead."
        ),
    )


class LeadIngested(Envelope):
    """Emitted by ingest when a submission is accepted: validated, normalized, de-duplicated."""

    event_type: Literal["lead.ingested"] = "lead.ingested"
    payload: LeadIngestedPayload


class ActivityRecorded(Envelope):
    """Emitted by ingest for an activity of a known lead: at once when the activity names the
    lead, or later, when a form reveals the anonymous visitor who did it (`stitched`)."""

    event_type: Literal["activity.recorded"] = "activity.recorded"
    payload: ActivityRecordedPayload


class LeadErased(Envelope):
    """Emitted by ingest when a lead's personal data is erased (on request, or because the ad
    platform deleted the lead). Consumers remove personal data and keep anonymous counts."""

    event_type: Literal["lead.erased"] = "lead.erased"
    payload: LeadErasedPayload


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


class SlaBreached(Envelope):
    """Emitted by routing once per SLA timer, when the assigned rep has not touched the lead
    by its due time; `reassigned_to` names the rep who takes it over, if any."""

    event_type: Literal["sla.breached"] = "sla.breached"
    payload: SlaBreachedPayload


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
    | SlaBreached
    | RubricActivated
    | ActivityRecorded
    | LeadErased
    | AgreementRevisionProposed,
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
    "sla.breached": 1,
    "activity.recorded": 1,
    "lead.erased": 1,
    "revision.proposed": 1,
}
