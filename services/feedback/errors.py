from __future__ import annotations

from shared.problems import Problem, Unprocessable


class InvalidPeriod(Problem):
    """The report period ends before it starts."""

    status = 422
    title = "Invalid period"
    slug = "invalid-period"


class ConflictingFilters(Problem):
    """Two names of one filter (`channel` and its deprecated alias `source`) disagree."""

    status = 422
    title = "Conflicting filters"
    slug = "conflicting-filters"


class NotEnoughHistory(Problem):
    """A report needs a rate or an average the recorded history cannot measure yet."""

    status = 422
    title = "Not enough history"
    slug = "not-enough-history"


class ScoringUnavailable(Problem):
    """Scoring, which owns the rubric drafts, did not answer as expected."""

    status = 502
    title = "Scoring unavailable"
    slug = "scoring-unavailable"


class RubricUnreadable(Problem):
    """The rubric to tune lacks what tuning reads: grades, rules with ids and points, qualification."""

    status = 422
    title = "Rubric unreadable"
    slug = "rubric-unreadable"


class MissingExchangeRate(Unprocessable):
    """A report meets an amount in a currency it has no configured rate for."""

    title = "Missing exchange rate"
    slug = "missing-exchange-rate"
