"""The sections a rubric document is made of: stages, fit, negative and engagement rules, grade
bands, the qualification criteria and the SLA tiers.

They sit below both the `Rubric` (`rubric.py`) and the evaluators compiled from it
(`compiled.py`, `engagement_rules.py`), so those can read a rubric's rules without importing the
rubric that compiles them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.scoring.conditions import ActivityCondition, ActivityType, ProfileCondition

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(Strict):
    """A lifecycle stage and the words both teams agreed to define it with."""

    id: Slug
    name: str
    definition: str


class _Rule(Strict):
    id: Slug
    description: str = Field(min_length=1, description="Why the rule exists; shown in score explanations.")

    @field_validator("when", mode="before", check_fields=False)
    @classmethod
    def _single_condition(cls, value: object) -> object:
        # A rule with one condition may give it as a mapping instead of a one-item list.
        return [value] if isinstance(value, dict) else value


class FitRule(_Rule):
    """Points for who the lead is. Fit never decays."""

    when: Annotated[list[ProfileCondition], Field(min_length=1)]
    points: float = Field(gt=0)


class NegativeRule(_Rule):
    """Points taken away for who the lead is; `disqualify` also bars qualification outright."""

    when: Annotated[list[ProfileCondition], Field(min_length=1)]
    points: float = Field(le=0)
    disqualify: bool = False


class EngagementRule(_Rule):
    """Points per matching activity, decayed by age, counted at most `max_occurrences` times
    (most recent first) and capped at `cap` points in total."""

    activity: ActivityType
    when: list[ActivityCondition] = Field(default_factory=list)
    points: float = Field(gt=0)
    cap: float | None = Field(default=None, gt=0)
    max_occurrences: int | None = Field(default=None, ge=1)
    half_life_days: float | None = Field(
        default=None, gt=0, description="Age at which an activity counts half; omitted means no decay."
    )


class GradeBand(Strict):
    grade: str = Field(min_length=1, max_length=16)
    min_fit: float | None = Field(
        default=None, description="Lowest fit score of the band; the last has none."
    )


class MqlCriterion(Strict):
    """Qualifies when the grade is this good or better and engagement reaches `min_engagement`."""

    grade_at_least: str
    min_engagement: float = 0


class Qualification(Strict):
    mql: list[MqlCriterion] = Field(default_factory=list)
    min_total: float | None = Field(default=None, description="Any lead reaching this total qualifies.")
    hand_raiser_forms: list[str] = Field(default_factory=list, description="Forms that qualify at once.")


class SlaTier(Strict):
    """How soon sales must first touch a qualified lead of this grade."""

    grade: str
    tier: str = Field(min_length=1, max_length=64)
    minutes: int = Field(gt=0)
