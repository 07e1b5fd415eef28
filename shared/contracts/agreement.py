"""The signed agreement as it travels on `rubric.activated`: what routing enforces and feedback
reports against, so neither has to ask scoring for the document both teams approved."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import Field

from shared.contracts.envelope import Payload


class TierCommitment(Payload):
    """Sales' commitments for the qualified leads of one grade."""

    grade: str
    tier: str
    first_touch_minutes: int = Field(description="The SLA to the first logged touch (as before).")
    accept_minutes: int | None = Field(default=None, description="Time to accept or reject the lead.")
    contact_minutes: int | None = Field(
        default=None, description="Time to the first real contact: a logged call, email or meeting."
    )
    min_attempts: int = Field(default=0, description="Attempts owed before rejecting as unresponsive.")
    attempt_business_days: int | None = Field(
        default=None, description="...made within this many business days."
    )


class PlannedRate(Payload):
    """A funnel rate the plan was made with, and the interval measured when it was agreed."""

    rate: float
    low: float | None = None
    high: float | None = None


class AgreementTerms(Payload):
    """One activated version of the agreement, in the terms the other services act on."""

    personas: list[str] = Field(default_factory=list, description="Persona ids, in matching order.")
    hand_raiser_forms: list[str] = Field(default_factory=list)
    hand_raiser_activities: list[str] = Field(default_factory=list)
    hand_raiser_min_grade: str | None = None
    tiers: list[TierCommitment] = Field(default_factory=list)
    recycle_cooldown_days: int | None = Field(
        default=None, description="How long a lead handed back to nurture waits before it may re-qualify."
    )
    period_start: date | None = None
    period_end: date | None = None
    revenue_goal: Decimal | None = None
    currency: str | None = Field(default=None, description="ISO 4217 code of the revenue goal.")
    mql_commitment: int | None = Field(
        default=None, description="Marketing's MQLs over the period, derived from the goal (reverse funnel)."
    )
    acceptance_commitment: float | None = Field(
        default=None, description="The share of MQLs sales accepts: marketing's quality commitment."
    )
    # Added within schema version 1 (additive): what feedback checks drift against.
    average_deal_size: Decimal | None = Field(default=None, description="In `currency`.")
    planning_rates: dict[str, PlannedRate] = Field(
        default_factory=dict,
        description="The rates the plan was made with, by name (`mql_to_sql`, `sql_to_won`, `lead_to_mql`).",
    )
    # Added within schema version 1 (additive): when a lead a rep holds is hot again.
    hot_again_score_jump: float | None = Field(
        default=None, description="A score rise of at least this many points tells the holding rep."
    )
    hot_again_pages: list[str] | None = Field(
        default=None, description="Page paths (contained in `page_path`) whose visit tells the holding rep."
    )
