"""The sections a rubric document is made of: stages, fit, negative and engagement rules, grade
bands, the qualification criteria and the SLA tiers.

They sit below both the `Rubric` (`rubric.py`) and the evaluators compiled from it
(`compiled.py`, `engagement_rules.py`), so those can read a rubric's rules without importing the
rubric that compiles them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.scoring.conditions import ActivityCondition, ActivityType, ProfileCondition
from shared.conditions import FieldValue

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
    """How a lead becomes an MQL. Hand-raisers are named here, in the signed document: a form a
    source flags as a hand-raiser outside it qualifies nobody by itself."""

    mql: list[MqlCriterion] = Field(default_factory=list)
    min_total: float | None = Field(default=None, description="Any lead reaching this total qualifies.")
    hand_raiser_forms: list[str] = Field(default_factory=list, description="Forms that qualify at once.")
    hand_raiser_activities: list[ActivityType] = Field(
        default_factory=list, description="Events (activity types) that qualify at once, e.g. event_attended."
    )
    hand_raiser_min_grade: str | None = Field(
        default=None, description="Hand-raisers qualify only from this grade up; omitted means any grade."
    )
    hot_again_score_jump: float | None = Field(
        default=None,
        gt=0,
        description="A lead a rep already holds whose score rises by at least this many points is hot "
        "again: its rep is told at once. Omitted: routing's BATON_HOT_AGAIN_SCORE_JUMP.",
    )
    hot_again_pages: list[str] | None = Field(
        default=None,
        description="Page paths (matched as contained in `page_path`) whose visit by a held lead tells "
        "its rep at once. Omitted: the pricing page (`/pricing`).",
    )

    @property
    def has_hand_raisers(self) -> bool:
        return bool(self.hand_raiser_forms or self.hand_raiser_activities)


class SlaTier(Strict):
    """Sales' commitments for a qualified lead of this grade: how soon it is first touched (the
    SLA clock), accepted or rejected, really contacted (a logged call, email or meeting:
    accepting is not contact), and how many attempts over how many business days it is owed
    before it may be rejected as unresponsive or recycled."""

    grade: str
    tier: str = Field(min_length=1, max_length=64)
    minutes: int = Field(gt=0)
    accept_minutes: int | None = Field(default=None, gt=0)
    contact_minutes: int | None = Field(default=None, gt=0)
    min_attempts: int = Field(default=0, ge=0)
    attempt_business_days: int | None = Field(default=None, gt=0)


class Persona(Strict):
    """A persona both teams speak of, recognized by conditions on the lead's fields; a lead is
    the first persona (in document order) whose conditions all hold."""

    id: Slug
    name: str = Field(min_length=1)
    description: str = ""
    when: Annotated[list[ProfileCondition], Field(min_length=1)]

    @field_validator("when", mode="before")
    @classmethod
    def _single_condition(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value

    def matches(self, value_of: Callable[[str], FieldValue]) -> bool:
        return all(condition.matches(value_of(condition.field)) for condition in self.when)


class Nurture(Strict):
    """The way back: a lead handed back to marketing may qualify again after the cool-down."""

    recycle_cooldown_days: int = Field(default=30, ge=0)
