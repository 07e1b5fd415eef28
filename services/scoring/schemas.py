"""Scoring's HTTP models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.scoring.rubric_plan import PlanDerivation
from shared.contracts import FiredRule


class ScoredLead(BaseModel):
    """Who the scored lead is, as scoring knows them: the latest non-empty value of each field
    over the lead's submissions, and the UTM tags of the latest submission that had any."""

    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    job_title: str | None
    country: str | None
    source: str | None
    consent: bool | None
    utm: dict[str, str]
    submitted_at: datetime | None = Field(
        description="When the latest form was submitted: the platform's own time when it gave one."
    )


class ScoreRead(BaseModel):
    """A lead's current score, with every rule that contributed and the decay applied to it."""

    lead_id: uuid.UUID
    rubric_version: str
    score: float
    fit_score: float
    engagement_score: float
    grade: str
    is_mql: bool
    qualified_at: datetime | None = None
    qualification_reason: str | None = None
    scored_at: datetime = Field(description="The moment the score was computed as of (the event's time).")
    fired_rules: list[FiredRule]
    explanation: str
    lead: ScoredLead | None = Field(default=None, description="Who the lead is.")


class ScoreHistoryEntry(BaseModel):
    """One score in a lead's history: what it was, how much it moved and which rules changed."""

    rubric_version: str
    score: float
    change: float = Field(description="Difference from the previous score (0 for the first).")
    fit_score: float
    engagement_score: float
    grade: str
    is_mql: bool
    scored_at: datetime
    event_id: uuid.UUID | None
    rules_added: list[str] = Field(description="Rules that fired now but not in the previous score.")
    rules_removed: list[str] = Field(description="Rules that fired in the previous score but not now.")
    fired_rules: list[FiredRule]


class ScoreHistory(BaseModel):
    lead_id: uuid.UUID
    scores: list[ScoreHistoryEntry]


class RubricValidated(BaseModel):
    valid: bool = True
    version: str
    rule_counts: dict[str, int]


class ApprovalRead(BaseModel):
    team: str
    approver: str
    approved_at: datetime


class RescoreProgress(BaseModel):
    """Re-scoring of every known lead after an activation."""

    rubric_version: str
    reason: str = Field(description="activation, or decay for the periodic pass.")
    status: str = Field(description="running, finished, or superseded by a later activation.")
    total: int
    done: int
    newly_qualified: int
    started_at: datetime
    finished_at: datetime | None


class RubricVersionRead(BaseModel):
    version: str
    status: str = Field(
        description="draft, active, retired, or withdrawn (a drift draft a later proposal replaced)."
    )
    created_by: str
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None
    approvals: list[ApprovalRead]
    missing_approvals: list[str]
    shadow: bool = Field(description="The draft scores live traffic alongside the active rubric.")
    document: dict[str, Any] | None = Field(default=None, description="The rubric; left out of lists.")
    rescore: RescoreProgress | None = None
    plan: PlanDerivation | None = Field(
        default=None,
        description="The revenue goal walked back to marketing's MQL commitment (reverse funnel).",
    )


class ShadowReport(BaseModel):
    """A shadowing draft next to reality, over the leads it scored."""

    rubric_version: str
    shadowing: bool
    leads_scored: int
    would_qualify: int = Field(description="Leads the draft would have made MQLs.")
    qualified: int = Field(description="Of the same leads, those that really became MQLs.")
    both: int
    only_shadow: int
    only_active: int
