from __future__ import annotations

from shared.problems import NotFound, Unprocessable


class LeadNotScored(NotFound):
    """Scoring has never seen the lead (or has not scored it yet)."""

    title = "Lead not scored"
    slug = "lead-not-scored"


class RubricRejected(Unprocessable):
    """A rubric document failed validation; the problem lists every error with its path."""

    title = "Invalid rubric"
    slug = "invalid-rubric"
