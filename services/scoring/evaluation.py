"""Evaluating a rubric: a pure function of the profile, the activities and the moment `now`.

Determinism is the point: a replayed event is evaluated with its own `occurred_at`, and
activities after `now` are ignored, so the same event always yields the same score however
late it is reprocessed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.scoring.conditions import FieldValue, comparable
from shared.contracts import FiredRule

if TYPE_CHECKING:
    from services.scoring.conditions import ActivityCondition, ProfileCondition
    from services.scoring.rubric import EngagementRule, Rubric

    Condition = ProfileCondition | ActivityCondition

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


def evaluate(
    rubric: Rubric, profile: Profile, activities: Sequence[Activity], *, now: datetime
) -> Evaluation:
    """Score `profile` with `activities` up to `now` against `rubric`."""
    # Each field is read and normalized once, however many rules test it.
    values = {f: _pair(profile.value_of(f)) for f in rubric.profile_fields}
    fired: list[FiredRule] = []
    disqualified = False
    for fit_rule in rubric.fit:
        if _holds(fit_rule.when, values):
            fired.append(rubric.fired_rule(fit_rule.id))
    for negative in rubric.negative:
        if _holds(negative.when, values):
            disqualified = disqualified or negative.disqualify
            fired.append(rubric.fired_rule(negative.id))
    fit_score = round(sum(r.points for r in fired), 2)

    # Earliest first, with a total order, so results never depend on the order of storage.
    past = sorted(
        (a for a in activities if a.occurred_at <= now),
        key=lambda a: (a.occurred_at, a.type, sorted(a.properties.items())),
    )
    by_type: dict[str, list[_Seen]] = {}
    for a in reversed(past):
        by_type.setdefault(a.type, []).append(_Seen(a, (now - a.occurred_at).total_seconds()))
    engagement: list[FiredRule] = []
    for rule in rubric.engagement:
        result = _engagement(rule, by_type.get(rule.activity, ()))
        if result is not None:
            engagement.append(result)
    engagement_score = round(sum(r.points for r in engagement), 2)
    fired.extend(engagement)

    score = round(fit_score + engagement_score, 2)
    grade = rubric.grade_for(fit_score)
    reason, why = (None, "") if disqualified else _qualification(rubric, past, grade, engagement_score, score)
    if reason is not None:
        fired.append(_fired(f"mql.{reason}", "qualification", 0.0, why))
    tier = rubric.sla_for(grade)
    return Evaluation(
        rubric_version=rubric.version,
        evaluated_at=now,
        score=score,
        fit_score=fit_score,
        engagement_score=engagement_score,
        grade=grade,
        is_mql=reason is not None,
        qualification_reason=reason,
        disqualified=disqualified,
        sla_tier=tier.tier,
        sla_minutes=tier.minutes,
        fired_rules=fired,
    )


Pair = tuple[FieldValue, str | None]


def _pair(value: FieldValue) -> Pair:
    return value, comparable(value)


def _holds(conditions: Sequence[Condition], values: dict[str, Pair]) -> bool:
    for condition in conditions:
        value, text = values[condition.field]
        if not condition.test(value, text):
            return False
    return True


class _Seen:
    """An activity with its age at `now` and its fields, normalized on first use."""

    __slots__ = ("activity", "age_s", "values")

    def __init__(self, activity: Activity, age_s: float) -> None:
        self.activity = activity
        self.age_s = age_s
        self.values: dict[str, Pair] = {}

    def satisfies(self, conditions: Sequence[Condition]) -> bool:
        values = self.values
        for condition in conditions:
            pair = values.get(condition.field)
            if pair is None:
                pair = values[condition.field] = _pair(self.activity.value_of(condition.field))
            if not condition.test(*pair):
                return False
        return True


def _engagement(rule: EngagementRule, recent_first: Sequence[_Seen]) -> FiredRule | None:
    # Most recent first: the frequency cap keeps the latest occurrences, recent intent counting most.
    matching = [seen for seen in recent_first if seen.satisfies(rule.when)]
    if not matching:
        return None
    counted = matching[: rule.max_occurrences] if rule.max_occurrences else matching
    undecayed = rule.points * len(counted)
    decayed = sum(rule.points * decay_factor(seen.age_s, rule.half_life_days) for seen in counted)
    points = round(decayed, 2)
    notes = [f"{len(counted)}x {rule.activity}"]
    if len(counted) < len(matching):
        notes.append(f"{len(matching) - len(counted)} more beyond the limit of {rule.max_occurrences}")
    if rule.cap is not None and points > rule.cap:
        # Rounded down to the cent, so the rounded total still never exceeds the cap.
        points = math.floor(rule.cap * 100 + 1e-9) / 100
        notes.append(f"capped at {rule.cap:g}")
    return _fired(
        rule.id,
        "engagement",
        points,
        f"{rule.description} ({', '.join(notes)})",
        round(decayed / undecayed, 4),
    )


def _fired(rule_id: str, kind: RuleKind, points: float, reason: str, decay: float = 1.0) -> FiredRule:
    return FiredRule.model_construct(
        rule_id=rule_id, kind=kind, points=float(points), reason=reason, decay_factor=decay
    )


def _qualification(
    rubric: Rubric, activities: Sequence[Activity], grade: str, engagement: float, score: float
) -> tuple[QualificationReason | None, str]:
    q = rubric.qualification
    hand_raisers = {f.casefold() for f in q.hand_raiser_forms}
    for activity in activities:
        form_id = activity.properties.get("form_id", "")
        if activity.type == "form_submission" and form_id.casefold() in hand_raisers:
            return "hand_raiser", f"hand-raiser form {form_id!r} qualifies at once"
        if activity.properties.get("hand_raiser") == "true":
            return "hand_raiser", "the source flagged the submission as a hand-raiser"
    rank = rubric.grade_rank(grade)
    for criterion in q.mql:
        if rank <= rubric.grade_rank(criterion.grade_at_least) and engagement >= criterion.min_engagement:
            return "threshold", (
                f"grade {grade} is {criterion.grade_at_least} or better and engagement "
                f"{engagement:g} >= {criterion.min_engagement:g}"
            )
    if q.min_total is not None and score >= q.min_total:
        return "threshold", f"total score {score:g} >= {q.min_total:g}"
    return None, ""
