"""The rubric: the versioned definition of a qualified lead that marketing and sales both sign.

A rubric is a YAML document validated by these pydantic models (its sections are in
`rubric_sections.py`). Everything a rule references (fields, activity types, grades) is checked
at load time, and every error is reported with its path, so a rubric that loads is one that
means what it says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from typing import Self

from pydantic import Field, ValidationInfo, field_validator

from services.scoring.compiled import CompiledRubric
from services.scoring.evaluation import Activity, Evaluation, Profile
from services.scoring.profile_rules import ProfileRule
from services.scoring.rubric_plan import Plan
from services.scoring.rubric_sections import (
    EngagementRule,
    FitRule,
    GradeBand,
    NegativeRule,
    Nurture,
    Persona,
    Qualification,
    SlaTier,
    Stage,
    Strict,
)
from shared.authored import DocumentInvalid, load_yaml, validate_document
from shared.contracts import AgreementTerms, FiredRule, TierCommitment

STARTER_RUBRIC = "starter.yaml"


class RubricInvalid(DocumentInvalid):
    """The document is not a valid rubric; `errors` lists every problem with its path."""

    kind = "rubric"


class Rubric(Strict):
    """One version of the agreement. Fields are validated in order, so the checks that refer to
    grades (qualification, SLA tiers) can see the bands declared before them."""

    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=64)
    name: str
    description: str = ""
    stages: list[Stage] = Field(min_length=1)
    fit: list[FitRule] = Field(default_factory=list)
    negative: list[NegativeRule] = Field(default_factory=list)
    engagement: list[EngagementRule] = Field(default_factory=list)
    grades: list[GradeBand] = Field(min_length=1)
    qualification: Qualification
    sla: list[SlaTier] = Field(min_length=1)
    # The rest of the agreement (all optional, so older versions still load): the personas both
    # teams speak of, the period's plan with marketing's derived commitment, the way back.
    personas: list[Persona] = Field(default_factory=list)
    plan: Plan | None = None
    nurture: Nurture = Field(default_factory=Nurture)

    @field_validator("stages")
    @classmethod
    def _unique_stages(cls, stages: list[Stage]) -> list[Stage]:
        _no_duplicates("stage id", [s.id for s in stages])
        return stages

    @field_validator("engagement")
    @classmethod
    def _unique_rule_ids(cls, engagement: list[EngagementRule], info: ValidationInfo) -> list[EngagementRule]:
        ids = [r.id for r in info.data.get("fit", [])] + [r.id for r in info.data.get("negative", [])]
        _no_duplicates("rule id", ids + [r.id for r in engagement])
        return engagement

    @field_validator("grades")
    @classmethod
    def _ordered_bands(cls, grades: list[GradeBand]) -> list[GradeBand]:
        _no_duplicates("grade", [g.grade for g in grades])
        *banded, last = grades
        if last.min_fit is not None:
            raise ValueError(f"the last band ({last.grade}) must have no min_fit: it catches every lead")
        for band in banded:
            if band.min_fit is None:
                raise ValueError(f"band {band.grade} needs a min_fit (only the last band may omit it)")
        floors = [b.min_fit for b in banded if b.min_fit is not None]
        if any(a <= b for a, b in pairwise(floors)):
            raise ValueError("bands must be listed best first with strictly decreasing min_fit")
        return grades

    @field_validator("qualification")
    @classmethod
    def _known_grades(cls, qualification: Qualification, info: ValidationInfo) -> Qualification:
        known = [g.grade for g in info.data.get("grades", [])]
        for i, criterion in enumerate(qualification.mql):
            if known and criterion.grade_at_least not in known:
                raise ValueError(
                    f"mql.{i}.grade_at_least: unknown grade {criterion.grade_at_least!r}; "
                    f"grades are {', '.join(known)}"
                )
        floor = qualification.hand_raiser_min_grade
        if known and floor is not None and floor not in known:
            raise ValueError(f"hand_raiser_min_grade: unknown grade {floor!r}; grades are {', '.join(known)}")
        if not qualification.mql and qualification.min_total is None and not qualification.has_hand_raisers:
            raise ValueError(
                "no way to qualify: give mql criteria, min_total, hand_raiser_forms or hand_raiser_activities"
            )
        return qualification

    @field_validator("sla")
    @classmethod
    def _every_grade_has_a_tier(cls, sla: list[SlaTier], info: ValidationInfo) -> list[SlaTier]:
        _no_duplicates("SLA grade", [t.grade for t in sla])
        known = [g.grade for g in info.data.get("grades", [])]
        unknown = sorted({t.grade for t in sla} - set(known)) if known else []
        missing = [g for g in known if g not in {t.grade for t in sla}]
        if unknown:
            raise ValueError(f"SLA tiers for unknown grades: {', '.join(unknown)}")
        if missing:
            raise ValueError(f"every grade needs an SLA tier; missing: {', '.join(missing)}")
        return sla

    @field_validator("personas")
    @classmethod
    def _unique_personas(cls, personas: list[Persona]) -> list[Persona]:
        _no_duplicates("persona id", [p.id for p in personas])
        return personas

    @classmethod
    def from_yaml(cls, text: str) -> Self:
        """Parse and validate a YAML (or JSON) document, raising `RubricInvalid` with every error."""
        return cls.from_document(load_yaml(text, RubricInvalid))

    @classmethod
    def from_document(cls, document: object) -> Self:
        return validate_document(cls, document, RubricInvalid, what="a rubric")

    @cached_property
    def profile_fields(self) -> frozenset[str]:
        """Every lead field some fit or negative rule tests."""
        rules: list[FitRule | NegativeRule] = [*self.fit, *self.negative]
        return frozenset(c.field for rule in rules for c in rule.when)

    @cached_property
    def _profile_fired(self) -> dict[str, FiredRule]:
        # Fit and negative rules always fire the same way, so their explanations are built once.
        fired = {
            r.id: FiredRule(rule_id=r.id, kind="fit", points=r.points, reason=r.description) for r in self.fit
        }
        for rule in self.negative:
            fired[rule.id] = FiredRule(
                rule_id=rule.id, kind="negative", points=rule.points, reason=rule.description
            )
        return fired

    def fired_rule(self, rule_id: str) -> FiredRule:
        """The explanation of a fit or negative rule that fired."""
        return self._profile_fired[rule_id]

    def grade_rank(self, grade: str) -> int:
        """0 for the best grade; lower is better."""
        return [g.grade for g in self.grades].index(grade)

    def grade_for(self, fit_score: float) -> str:
        for band in self.grades:
            if band.min_fit is None or fit_score >= band.min_fit:
                return band.grade
        raise AssertionError("validation guarantees a catch-all band")

    def sla_for(self, grade: str) -> SlaTier:
        return next(t for t in self.sla if t.grade == grade)

    def persona_for(self, profile: Profile) -> str | None:
        """The id of the first persona the lead matches, or None."""
        return next((p.id for p in self.personas if p.matches(profile.value_of)), None)

    def terms(self) -> AgreementTerms:
        """This version as `rubric.activated` carries it to routing and feedback."""
        q, derived = self.qualification, self.plan.derive() if self.plan else None
        return AgreementTerms(
            personas=[p.id for p in self.personas],
            hand_raiser_forms=list(q.hand_raiser_forms),
            hand_raiser_activities=list(q.hand_raiser_activities),
            hand_raiser_min_grade=q.hand_raiser_min_grade,
            tiers=[
                TierCommitment(
                    grade=t.grade,
                    tier=t.tier,
                    first_touch_minutes=t.minutes,
                    accept_minutes=t.accept_minutes,
                    contact_minutes=t.contact_minutes,
                    min_attempts=t.min_attempts,
                    attempt_business_days=t.attempt_business_days,
                )
                for t in self.sla
            ],
            recycle_cooldown_days=self.nurture.recycle_cooldown_days,
            period_start=derived.period_start if derived else None,
            period_end=derived.period_end if derived else None,
            revenue_goal=derived.revenue_goal.amount if derived else None,
            currency=derived.revenue_goal.currency if derived else None,
            mql_commitment=derived.mql_commitment if derived else None,
            acceptance_commitment=derived.acceptance_commitment if derived else None,
            average_deal_size=self.plan.average_deal_size.amount if self.plan else None,
            planning_rates=self.plan.rates.planned() if self.plan else {},
            hot_again_score_jump=q.hot_again_score_jump,
            hot_again_pages=q.hot_again_pages,
        )

    @cached_property
    def compiled(self) -> CompiledRubric:
        """This rubric compiled for evaluation; built on first use, once per parsed rubric."""
        # Fit then negative rules, in rubric order: (conditions, explanation, disqualifies).
        rules: list[ProfileRule] = [(r.when, self.fired_rule(r.id), False) for r in self.fit]
        rules += [(r.when, self.fired_rule(r.id), r.disqualify) for r in self.negative]
        return CompiledRubric(
            version=self.version,
            profile_rules=rules,
            engagement=self.engagement,
            grades=self.grades,
            qualification=self.qualification,
            sla=self.sla,
        )

    def evaluate(self, profile: Profile, activities: Sequence[Activity], *, now: datetime) -> Evaluation:
        """Score the lead as of `now`, with the semantics of `reference_evaluation.evaluate`."""
        return self.compiled.evaluate(profile, activities, now=now)


def _no_duplicates(what: str, values: list[str]) -> None:
    duplicates = sorted(v for v, n in Counter(values).items() if n > 1)
    if duplicates:
        raise ValueError(f"duplicate {what}: {', '.join(duplicates)}")


def load_rubric(path: str | Path | None = None) -> Rubric:
    """The rubric at `path`, or the packaged starter rubric when no path is given."""
    if path is None:
        text = (files("services.scoring.rubrics") / STARTER_RUBRIC).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return Rubric.from_yaml(text)
