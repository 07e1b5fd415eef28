"""What evaluating a rubric reads and returns: the lead's profile, its activities and the
`Evaluation`, with the decay and the explanation both evaluators share.

Evaluation is a pure function of the profile, the activities and the moment `now`
(`reference_evaluation.evaluate` states it, `compiled.CompiledRubric` runs it). Determinism is
the point: a replayed event is evaluated with its own `occurred_at`, and activities after `now`
are ignored, so the same event always yields the same score however late it is reprocessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.conditions import FieldValue
from shared.contracts import FiredRule

QualificationReason = Literal["threshold", "hand_raiser"]
RuleKind = Literal["fit", "engagement", "negative", "qualification"]
SECONDS_PER_DAY = 86_400.0


class Profile(BaseModel):
    """What scoring knows about a lead: the latest non-null value of every field."""

    model_config = ConfigDict(frozen=True)

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    job_title: str | None = None
    phone: str | None = None
    country: str | None = None
    company_size: int | None = None
    industry: str | None = None
    source: str | None = None
    consent: bool | None = None
    utm: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, str] = Field(default_factory=dict)

    @property
    def email_domain(self) -> str:
        return (self.email or "").rpartition("@")[2].lower()

    def value_of(self, field: str) -> FieldValue:
        if field == "email_domain":
            return self.email_domain
        if field.startswith("attributes."):
            return self.attributes.get(field.removeprefix("attributes."))
        if field.startswith("utm."):
            return self.utm.get(field.removeprefix("utm."))
        value: FieldValue = getattr(self, field)
        return value


class Activity(BaseModel):
    """Something the lead did. Properties are flat text: `form_id`, `utm.source`, ..."""

    model_config = ConfigDict(frozen=True)

    type: str
    occurred_at: datetime
    properties: dict[str, str] = Field(default_factory=dict)

    def value_of(self, field: str) -> FieldValue:
        return self.properties.get(field.removeprefix("properties."))


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The result of one evaluation (a plain dataclass: evaluation is the hot path)."""

    rubric_version: str
    evaluated_at: datetime
    score: float
    fit_score: float
    engagement_score: float
    grade: str
    is_mql: bool
    qualification_reason: QualificationReason | None
    disqualified: bool
    sla_tier: str
    sla_minutes: int
    fired_rules: list[FiredRule]

    def explain(self) -> str:
        return explain_score(
            score=self.score,
            fit_score=self.fit_score,
            engagement_score=self.engagement_score,
            grade=self.grade,
            rubric_version=self.rubric_version,
            is_mql=self.is_mql,
            fired_rules=self.fired_rules,
        )


def explain_score(
    *,
    score: float,
    fit_score: float,
    engagement_score: float,
    grade: str,
    rubric_version: str,
    is_mql: bool,
    fired_rules: Sequence[FiredRule],
) -> str:
    """A short human reading of a score, rule by rule."""
    lines = [
        f"Score {score:g} = fit {fit_score:g} + engagement {engagement_score:g} "
        f"(grade {grade}, rubric {rubric_version})."
    ]
    for rule in fired_rules:
        decay = f", decayed to {rule.decay_factor:.0%}" if rule.decay_factor < 1 else ""
        lines.append(f"{rule.points:+g} {rule.kind} {rule.rule_id}: {rule.reason}{decay}")
    if not is_mql:
        lines.append("Not an MQL yet.")
    return "\n".join(lines)


def decay_factor(age_seconds: float, half_life_days: float | None) -> float:
    """The weight of an activity of this age: 1 when new, 1/2 after one half-life."""
    if half_life_days is None or age_seconds <= 0:
        return 1.0
    return float(0.5 ** (age_seconds / (half_life_days * SECONDS_PER_DAY)))
