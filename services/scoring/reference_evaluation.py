"""The reference evaluator: a rubric's semantics written to be read, one rule at a time.

Scoring runs `compiled.CompiledRubric` (through `Rubric.evaluate`); property tests hold it equal
to this function, number for number and word for word.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from services.scoring.conditions import Condition
from services.scoring.evaluation import (
    Activity,
    Evaluation,
    Profile,
    QualificationReason,
    RuleKind,
    decay_factor,
)
from services.scoring.rubric import Rubric
from services.scoring.rubric_sections import EngagementRule
from shared.conditions import FieldValue, comparable
from shared.contracts import FiredRule


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
    rank = rubric.grade_rank(grade)
    # Only the agreement names hand-raisers (a source's own flag does not), from its grade up.
    floor = q.hand_raiser_min_grade
    for activity in activities if floor is None or rank <= rubric.grade_rank(floor) else ():
        form_id = activity.properties.get("form_id", "")
        if activity.type == "form_submission" and form_id.casefold() in hand_raisers:
            return "hand_raiser", f"hand-raiser form {form_id!r} qualifies at once"
        if activity.type in q.hand_raiser_activities:
            return "hand_raiser", f"hand-raiser event {activity.type!r} qualifies at once"
    for criterion in q.mql:
        if rank <= rubric.grade_rank(criterion.grade_at_least) and engagement >= criterion.min_engagement:
            return "threshold", (
                f"grade {grade} is {criterion.grade_at_least} or better and engagement "
                f"{engagement:g} >= {criterion.min_engagement:g}"
            )
    if q.min_total is not None and score >= q.min_total:
        return "threshold", f"total score {score:g} >= {q.min_total:g}"
    return None, ""
