from __future__ import annotations

from shared.problems import Conflict, NotFound, Problem, Unprocessable


class LeadNotScored(NotFound):
    """Scoring has never seen the lead (or has not scored it yet)."""

    title = "Lead not scored"
    slug = "lead-not-scored"


class RubricRejected(Unprocessable):
    """A rubric document failed validation; the problem lists every error with its path."""

    title = "Invalid rubric"
    slug = "invalid-rubric"


class RubricVersionNotFound(NotFound):
    title = "Rubric version not found"
    slug = "rubric-version-not-found"


class RubricVersionExists(Conflict):
    title = "Rubric version exists"
    slug = "rubric-version-exists"


class RubricNotDraft(Conflict):
    title = "Rubric is not a draft"
    slug = "rubric-not-draft"


class RubricNotApproved(Conflict):
    """Activation needs both teams' approval."""

    title = "Rubric not approved by both teams"
    slug = "rubric-not-approved"


class RubricVersionMismatch(Unprocessable):
    title = "Rubric version mismatch"
    slug = "rubric-version-mismatch"


class FeedbackUnavailable(Problem):
    """Feedback, whose evidence the signing page shows, did not answer as expected."""

    status = 502
    title = "Feedback unavailable"
    slug = "feedback-unavailable"
