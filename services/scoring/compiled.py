"""The rubric compiled once into generated functions and closures: the evaluator scoring runs on
every event.

`reference_evaluation.evaluate` is the reference semantics, written to be read; this module
computes exactly the same `Evaluation` (same numbers, same fired rules, same wording) at a
fraction of the cost: conditions are answered once per distinct field value (bit masks remembered
per value, the fit outcome remembered per mask), one generated pass over the activities serves
every engagement rule and the hand-raiser test, and results are built without pydantic's or the
dataclass's per-field machinery. Property tests hold the two equal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple

from services.scoring.engagement_rules import HandRaiser, HandRaisingEvent, compile_activity_pass, fired_rule
from services.scoring.evaluation import Activity, Evaluation, Profile, QualificationReason
from services.scoring.predicates import MEMO_SIZE
from services.scoring.profile_rules import ProfileRule, compile_profile_rules
from services.scoring.rubric_sections import EngagementRule, GradeBand, Qualification, SlaTier
from shared.contracts import FiredRule


class _Fit(NamedTuple):
    """What the profile rules decide, remembered per combination of conditions met."""

    fired: tuple[FiredRule, ...]
    fit_score: float
    disqualified: bool
    grade: str
    rank: int
    sla_tier: str
    sla_minutes: int


# `Evaluation` is a frozen dataclass with slots: its `__init__` sets each field through
# `object.__setattr__`, a call per field. A plain class with the very same slots takes the values
# as ordinary attribute stores, then becomes an `Evaluation` (same layout, so Python allows the
# class change); generated from the dataclass's own fields, so none is missed.
def _evaluation_factory() -> Callable[..., Evaluation]:
    names = [f.name for f in fields(Evaluation)]
    builder = type("_EvaluationBuilder", (), {"__slots__": Evaluation.__slots__})
    namespace: dict[str, Any] = {"Builder": builder, "Evaluation": Evaluation}
    lines = [f"def new_evaluation({', '.join(names)}):", "    e = Builder()"]
    lines += [f"    e.{n} = {n}" for n in names]
    lines += ["    e.__class__ = Evaluation", "    return e"]
    exec("\n".join(lines), namespace)
    factory: Callable[..., Evaluation] = namespace["new_evaluation"]
    return factory


_new_evaluation = _evaluation_factory()


class CompiledRubric:
    """A rubric's rules as generated functions and precomputed constants; `evaluate` is the hot path."""

    def __init__(
        self,
        *,
        version: str,
        profile_rules: Sequence[ProfileRule],
        engagement: Sequence[EngagementRule],
        grades: Sequence[GradeBand],
        qualification: Qualification,
        sla: Sequence[SlaTier],
    ) -> None:
        """A validated rubric's parts; `profile_rules` are its fit then negative rules, in order."""
        self.version = version
        fields = sorted({c.field for conditions, _, _ in profile_rules for c in conditions})
        self._profile_rules = compile_profile_rules(fields, profile_rules, self._fit)
        q = qualification
        self._activity_pass = compile_activity_pass(
            engagement,
            frozenset(f.casefold() for f in q.hand_raiser_forms),
            frozenset(q.hand_raiser_activities),
        )
        self._bands = [(b.grade, b.min_fit) for b in grades]
        self._rank = {b.grade: i for i, b in enumerate(grades)}
        floor = q.hand_raiser_min_grade
        self._hand_raiser_floor = len(grades) if floor is None else self._rank[floor]
        self._tiers = {t.grade: (t.tier, t.minutes) for t in sla}
        self._mql = [
            (self._rank[c.grade_at_least], c.grade_at_least, c.min_engagement, f"{c.min_engagement:g}")
            for c in q.mql
        ]
        self._min_total = q.min_total
        self._hand_raiser_rules: dict[HandRaiser, FiredRule] = {}

    def _fit(self, fired: list[FiredRule], points: float, disqualified: bool) -> _Fit:
        fit_score = round(points, 2)
        grade = self._grade_for(fit_score)
        tier, minutes = self._tiers[grade]
        return _Fit(tuple(fired), fit_score, disqualified, grade, self._rank[grade], tier, minutes)

    def evaluate(self, profile: Profile, activities: Sequence[Activity], *, now: datetime) -> Evaluation:
        """Score `profile` with `activities` up to `now`, as `reference_evaluation.evaluate` does."""
        fit_fired, fit_score, disqualified, grade, rank, sla_tier, sla_minutes = self._profile_rules(profile)

        recent = sorted(activities, key=_by_time, reverse=True)
        if recent and recent[0].occurred_at > now:
            recent = [a for a in recent if a.occurred_at <= now]
        fired = list(fit_fired)
        engagement_score: float = 0
        hand_raiser: HandRaiser = None
        if recent:
            seen = self._activity_pass(recent, now, False)
            if seen is None:
                # Two activities share a moment: the reference's tie-break decides their order.
                seen = self._activity_pass(_in_total_order(recent), now, True)
            engagement, hand_raiser = seen  # type: ignore[misc]  # not None on an ordered pass
            if engagement:
                engagement_score = round(sum(map(_points, engagement)), 2)
                fired += engagement

        score = round(fit_score + engagement_score, 2)
        reason: QualificationReason | None = None
        if not disqualified:
            if hand_raiser is not None and rank <= self._hand_raiser_floor:
                reason = "hand_raiser"
                fired.append(self._hand_raiser_rules.get(hand_raiser) or self._hand_raiser_rule(hand_raiser))
            else:
                why = self._threshold(grade, rank, engagement_score, score)
                if why is not None:
                    reason = "threshold"
                    fired.append(fired_rule("mql.threshold", "qualification", 0.0, why))
        return _new_evaluation(
            self.version,
            now,
            score,
            fit_score,
            engagement_score,
            grade,
            reason is not None,
            reason,
            disqualified,
            sla_tier,
            sla_minutes,
            fired,
        )

    def _grade_for(self, fit_score: float) -> str:
        for grade, min_fit in self._bands:
            if min_fit is None or fit_score >= min_fit:
                return grade
        raise AssertionError("validation guarantees a catch-all band")

    def _hand_raiser_rule(self, hand_raiser: HandRaiser) -> FiredRule:
        # One explanation per form id (a small vocabulary), shared as the fit rules' are.
        if isinstance(hand_raiser, HandRaisingEvent):
            why = f"hand-raiser event {hand_raiser.activity_type!r} qualifies at once"
        else:
            why = f"hand-raiser form {hand_raiser!r} qualifies at once"
        if len(self._hand_raiser_rules) >= MEMO_SIZE:
            self._hand_raiser_rules.clear()
        rule = self._hand_raiser_rules[hand_raiser] = fired_rule("mql.hand_raiser", "qualification", 0.0, why)
        return rule

    def _threshold(self, grade: str, rank: int, engagement: float, score: float) -> str | None:
        """Why the lead qualifies by its grade and scores, or None if it does not."""
        for needed_rank, needed_grade, min_engagement, min_text in self._mql:
            if rank <= needed_rank and engagement >= min_engagement:
                return (
                    f"grade {grade} is {needed_grade} or better and engagement {engagement:g} >= {min_text}"
                )
        if self._min_total is not None and score >= self._min_total:
            return f"total score {score:g} >= {self._min_total:g}"
        return None


_by_time = attrgetter("occurred_at")
_points = attrgetter("points")


def _in_total_order(recent: list[Activity]) -> list[Activity]:
    """Most recent first in the reverse of the reference's total order: by time, ties broken by
    type and properties. The tie-break key is costly to build, so it is used only on a tie."""
    return sorted(recent, key=lambda a: (a.occurred_at, a.type, sorted(a.properties.items())), reverse=True)
