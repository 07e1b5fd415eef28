"""The rubric compiled once into plain closures: the evaluator scoring runs on every event.

`services.scoring.evaluation.evaluate` is the reference semantics, written to be read; this
module computes exactly the same `Evaluation` (same numbers, same fired rules, same wording)
without pydantic attribute access, per-call normalization of constants or per-rule sorting. A
property test holds the two equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING

from services.scoring.conditions import (
    Contains,
    Equals,
    Exists,
    FieldValue,
    In,
    Range,
    Regex,
    comparable,
)
from services.scoring.evaluation import (
    SECONDS_PER_DAY,
    Activity,
    Evaluation,
    Profile,
    QualificationReason,
    RuleKind,
)
from services.scoring.profile_rules import compile_profile_rules
from shared.contracts import FiredRule

if TYPE_CHECKING:
    from services.scoring.evaluation import Condition
    from services.scoring.rubric import EngagementRule, Rubric

# A test receives the raw value and its normalized text (None when the field is empty).
Test = Callable[[FieldValue, "str | None"], bool]
_FIRED_FIELDS = frozenset({"rule_id", "kind", "points", "reason", "decay_factor"})
_new_fired = FiredRule.__new__
_set = object.__setattr__


def fired_rule(rule_id: str, kind: RuleKind, points: float, reason: str, decay: float = 1.0) -> FiredRule:
    """A `FiredRule` built the way `model_construct` builds it, minus its per-call field walk:
    the values are ours and already valid, and this runs for every engagement rule that fires."""
    rule = _new_fired(FiredRule)
    rule.__dict__.update(rule_id=rule_id, kind=kind, points=float(points), reason=reason, decay_factor=decay)
    _set(rule, "__pydantic_fields_set__", set(_FIRED_FIELDS))
    _set(rule, "__pydantic_extra__", None)
    _set(rule, "__pydantic_private__", None)
    return rule


def text_of(value: FieldValue) -> str | None:
    """`conditions.comparable`, with the common cases (absent, text, whole number) first."""
    if value is None:
        return None
    cls = value.__class__
    if cls is str:
        stripped = value.strip()  # type: ignore[union-attr]
        return stripped.casefold() if stripped else None
    if cls is int:
        return str(value)
    return comparable(value)


def compile_test(condition: Condition) -> Test:
    """One condition as a closure over its precomputed constants."""
    if isinstance(condition, Equals):
        target = condition._target
        return lambda value, text: text == target
    if isinstance(condition, In):
        members = condition._normalized
        return lambda value, text: text is not None and text in members
    if isinstance(condition, Contains):
        needles = condition._needles
        if len(needles) == 1:
            needle = needles[0]
            return lambda value, text: text is not None and needle in text
        return lambda value, text: text is not None and any(n in text for n in needles)
    if isinstance(condition, Regex):
        search = condition._pattern.search
        return lambda value, text: (
            text is not None and (search(value if isinstance(value, str) else text) is not None)
        )
    if isinstance(condition, Exists):
        wanted = condition.value
        return lambda value, text: (text is not None) == wanted
    if isinstance(condition, Range):
        return _range_test(condition.min, condition.max)
    raise TypeError(f"unknown condition {type(condition).__name__}")


MEMO_SIZE = 4096


def _memoized(test: Test) -> Callable[[FieldValue], bool]:
    """An activity condition as a function of the property value alone, remembering its
    answers: form ids, page paths and campaigns come from a small vocabulary, so most
    activities are answered by one dict lookup. Bounded, in case a property is not."""
    answers: dict[FieldValue, bool] = {}

    def memo(value: FieldValue) -> bool:
        answer = answers.get(value)
        if answer is None:
            if len(answers) >= MEMO_SIZE:
                answers.clear()
            answer = answers[value] = test(value, text_of(value))
        return answer

    return memo


def _range_test(low: float | None, high: float | None) -> Test:
    def test(value: FieldValue, text: str | None) -> bool:
        if value is None or value.__class__ is bool:
            return False
        try:
            number = float(value)
        except ValueError:
            return False
        if number != number:  # NaN
            return False
        return (low is None or number >= low) and (high is None or number <= high)

    return test


def _profile_reader(field: str) -> Callable[[Profile], FieldValue]:
    if field == "email_domain":
        return lambda p: p.email.rpartition("@")[2].lower()
    if field.startswith("attributes."):
        key = field.removeprefix("attributes.")
        return lambda p: p.attributes.get(key)
    if field.startswith("utm."):
        key = field.removeprefix("utm.")
        return lambda p: p.utm.get(key)
    return attrgetter(field)


class _EngagementRule:
    """An engagement rule with its explanation text and decay constant precomputed."""

    __slots__ = (
        "activity",
        "cap",
        "cap_points",
        "capped_note",
        "conditions",
        "description",
        "half_life_s",
        "id",
        "max_occurrences",
        "points",
        "reasons",
    )

    def __init__(self, rule: EngagementRule) -> None:
        self.id = rule.id
        self.activity = rule.activity
        self.points = rule.points
        self.max_occurrences = rule.max_occurrences
        self.description = rule.description
        self.conditions = [
            (c.field.removeprefix("properties."), _memoized(compile_test(c))) for c in rule.when
        ]
        self.cap = rule.cap
        self.cap_points = None if rule.cap is None else math.floor(rule.cap * 100 + 1e-9) / 100
        self.capped_note = "" if rule.cap is None else f", capped at {rule.cap:g}"
        half_life = rule.half_life_days
        self.half_life_s = None if half_life is None else half_life * SECONDS_PER_DAY
        self.reasons: dict[tuple[int, int, bool], str] = {}

    def fire(self, recent_first: list[tuple[Activity, float]]) -> FiredRule | None:
        """`evaluation._engagement`: points of the matching activities (with their ages in
        seconds), most recent first."""
        conditions = self.conditions
        if conditions:
            matching = []
            for seen in recent_first:
                properties = seen[0].properties
                for key, test in conditions:
                    if not test(properties.get(key)):
                        break
                else:
                    matching.append(seen)
            if not matching:
                return None
        else:
            matching = recent_first
        limit = self.max_occurrences
        counted = matching[:limit] if limit else matching
        points = self.points
        half_life_s = self.half_life_s
        decayed: float = 0
        if half_life_s is None:
            for _ in counted:
                decayed += points * 1.0
        else:
            # Divided, not multiplied by an inverse: the same float operations as `decay_factor`.
            for _, age in counted:
                decayed += points * (0.5 ** (age / half_life_s) if age > 0 else 1.0)
        total = round(decayed, 2)
        capped = self.cap is not None and total > self.cap
        if capped:
            total = self.cap_points  # type: ignore[assignment]
        shape = (len(counted), len(matching), capped)
        reason = self.reasons.get(shape)
        if reason is None:
            reason = self.reasons[shape] = self._reason(*shape)
        return fired_rule(self.id, "engagement", total, reason, round(decayed / (points * len(counted)), 4))

    def _reason(self, counted: int, matching: int, capped: bool) -> str:
        # Depends only on the counts and the cap, so each wording is built once and reused.
        notes = f"{counted}x {self.activity}"
        if counted < matching:
            notes += f", {matching - counted} more beyond the limit of {self.max_occurrences}"
        if capped:
            notes += self.capped_note
        return f"{self.description} ({notes})"


class CompiledRubric:
    """A rubric's rules as closures and precomputed constants; `evaluate` is the hot path."""

    def __init__(self, rubric: Rubric) -> None:
        self.version = rubric.version
        readers = [(f, _profile_reader(f)) for f in sorted(rubric.profile_fields)]
        # Fit then negative rules, in rubric order: (conditions, explanation, disqualifies).
        rules = [(r.when, rubric.fired_rule(r.id), False) for r in rubric.fit]
        rules += [(r.when, rubric.fired_rule(r.id), r.disqualify) for r in rubric.negative]
        self._profile_rules = compile_profile_rules(readers, rules, text_of=text_of, range_test=_range_test)
        self._engagement = [_EngagementRule(r) for r in rubric.engagement]
        self._bands = [(b.grade, b.min_fit) for b in rubric.grades]
        self._rank = {b.grade: i for i, b in enumerate(rubric.grades)}
        self._tiers = {t.grade: (t.tier, t.minutes) for t in rubric.sla}
        q = rubric.qualification
        self._hand_raisers = frozenset(f.casefold() for f in q.hand_raiser_forms)
        self._mql = [
            (self._rank[c.grade_at_least], c.grade_at_least, c.min_engagement, f"{c.min_engagement:g}")
            for c in q.mql
        ]
        self._min_total = q.min_total

    def evaluate(self, profile: Profile, activities: Sequence[Activity], *, now: datetime) -> Evaluation:
        """Score `profile` with `activities` up to `now`, as `evaluation.evaluate` does."""
        fired, fit_points, disqualified = self._profile_rules(profile)
        fit_score = round(fit_points, 2)

        past = [a for a in activities if a.occurred_at <= now]
        if len(past) > 1:
            _sort_earliest_first(past)
        engagement_points: float = 0
        if past and self._engagement:
            by_type: dict[str, list[tuple[Activity, float]]] = {}
            for a in reversed(past):
                seen = (a, (now - a.occurred_at).total_seconds())
                same = by_type.get(a.type)
                if same is None:
                    by_type[a.type] = [seen]
                else:
                    same.append(seen)
            for rule in self._engagement:
                candidates = by_type.get(rule.activity)
                if candidates:
                    result = rule.fire(candidates)
                    if result is not None:
                        fired.append(result)
                        engagement_points += result.points
        engagement_score = round(engagement_points, 2)

        score = round(fit_score + engagement_score, 2)
        grade = self._grade_for(fit_score)
        reason: QualificationReason | None = None
        if not disqualified:
            reason, why = self._qualification(past, grade, engagement_score, score)
            if reason is not None:
                fired.append(fired_rule(f"mql.{reason}", "qualification", 0.0, why))
        tier, minutes = self._tiers[grade]
        return Evaluation(
            rubric_version=self.version,
            evaluated_at=now,
            score=score,
            fit_score=fit_score,
            engagement_score=engagement_score,
            grade=grade,
            is_mql=reason is not None,
            qualification_reason=reason,
            disqualified=disqualified,
            sla_tier=tier,
            sla_minutes=minutes,
            fired_rules=fired,
        )

    def _grade_for(self, fit_score: float) -> str:
        for grade, min_fit in self._bands:
            if min_fit is None or fit_score >= min_fit:
                return grade
        raise AssertionError("validation guarantees a catch-all band")

    def _qualification(
        self, activities: Sequence[Activity], grade: str, engagement: float, score: float
    ) -> tuple[QualificationReason | None, str]:
        hand_raisers = self._hand_raisers
        for activity in activities:
            properties = activity.properties
            form_id = properties.get("form_id", "")
            if activity.type == "form_submission" and form_id.casefold() in hand_raisers:
                return "hand_raiser", f"hand-raiser form {form_id!r} qualifies at once"
            if properties.get("hand_raiser") == "true":
                return "hand_raiser", "the source flagged the submission as a hand-raiser"
        rank = self._rank[grade]
        for needed_rank, needed_grade, min_engagement, min_text in self._mql:
            if rank <= needed_rank and engagement >= min_engagement:
                return "threshold", (
                    f"grade {grade} is {needed_grade} or better and engagement {engagement:g} >= {min_text}"
                )
        if self._min_total is not None and score >= self._min_total:
            return "threshold", f"total score {score:g} >= {self._min_total:g}"
        return None, ""


_by_time = attrgetter("occurred_at")


def _sort_earliest_first(past: list[Activity]) -> None:
    """The reference's total order: by time, ties broken by type and properties. The tie-break
    key is costly to build, so it is used only when two activities share a moment."""
    past.sort(key=_by_time)
    previous = None
    for activity in past:
        if activity.occurred_at == previous:
            past.sort(key=lambda a: (a.occurred_at, a.type, sorted(a.properties.items())))
            return
        previous = activity.occurred_at
