"""The simulated sales team: response habits, and verdicts that follow the hidden truth.

Pure and seeded. A rep's habit says how soon they first touch a new lead (simulated hours) and
how often a lead slips through the cracks; the verdict on a lead is drawn from the prospect's
hidden propensity, never from its score, so the outcomes judge the rubric and not the reverse.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from baton.demo.world import Prospect


@dataclass(frozen=True)
class Habit:
    median_touch_hours: float
    forgets: float


HABITS: dict[str, Habit] = {
    "Ava Reyes": Habit(0.1, 0.0),
    "Ben Okafor": Habit(0.5, 0.02),
    "Chloe Martin": Habit(2.0, 0.05),
    "Dev Patel": Habit(6.0, 0.12),
}
DEFAULT_HABIT = Habit(1.0, 0.05)


@dataclass(frozen=True)
class Step:
    """One thing a rep does on an assignment, `after_hours` after it was assigned."""

    after_hours: float
    action: str  # touch, accepted, rejected, sql, won, lost
    reason: str | None = None
    amount: float | None = None

    @property
    def reason_code(self) -> str | None:
        """The code routing files the rep's reason under (a rejection must have one)."""
        return REASON_CODES.get(self.reason) if self.reason else None


# The reasons the simulated reps give, as routing's fixed reason codes.
REASON_CODES: dict[str, str] = {
    "student, not a buyer": "student",
    "job seeker": "not_our_icp",
    "personal email, no company": "bad_data",
    "company too small": "not_our_icp",
    "no budget": "no_budget",
    "not the decision maker": "no_authority",
    "no response after 3 attempts": "bad_data",
    "just researching": "no_need",
    "not our lead": "not_our_icp",
    "chose a competitor": "competitor",
    "no decision": "no_decision",
    "price": "price",
    "timing": "timing",
}


def habit_of(rep_name: str) -> Habit:
    return HABITS.get(rep_name, DEFAULT_HABIT)


def reject_reason(prospect: Prospect, rng: random.Random) -> str:
    if prospect.seniority == "student":
        return "student, not a buyer"
    if prospect.seniority == "job-seeker":
        return "job seeker"
    if prospect.free_mail and rng.random() < 0.5:
        return "personal email, no company"
    size = prospect.fields.get("company_size")
    if size is not None and size < 20:
        return "company too small"
    return rng.choice(
        (
            "no budget",
            "no budget",
            "not the decision maker",
            "no response after 3 attempts",
            "just researching",
        )
    )


def loss_reason(rng: random.Random) -> str:
    return rng.choice(("chose a competitor", "no decision", "price", "price", "timing"))


def plan(prospect: Prospect | None, rep_name: str, rng: random.Random) -> list[Step]:
    """What the rep will do with the lead, in order. An unknown lead is worked and rejected."""
    habit = habit_of(rep_name)
    touch = rng.expovariate(1 / habit.median_touch_hours) if habit.median_touch_hours else 0.0
    if rng.random() < habit.forgets:
        touch += rng.uniform(24, 72)
    steps = [Step(touch, "touch")]
    decide = touch + rng.uniform(0.5, 24)
    if prospect is None:
        return [*steps, Step(decide, "rejected", reason="not our lead")]
    if rng.random() < prospect.p_sql:
        steps += [Step(decide, "accepted"), Step(decide + rng.uniform(24, 96), "sql")]
        close = steps[-1].after_hours + rng.uniform(24 * 7, 24 * 28)
        if rng.random() < 0.45:
            return [*steps, Step(close, "won", amount=prospect.deal_size)]
        return [*steps, Step(close, "lost", reason=loss_reason(rng))]
    if prospect.junk or rng.random() < 0.7:
        return [*steps, Step(decide, "rejected", reason=reject_reason(prospect, rng))]
    # Accepted in good faith, found wanting a few days later.
    return [
        *steps,
        Step(decide, "accepted"),
        Step(decide + rng.uniform(24, 120), "lost", reason=loss_reason(rng)),
    ]
