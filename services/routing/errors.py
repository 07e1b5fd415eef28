"""Routing's domain errors; each carries its HTTP status for the one problem-details handler."""

from __future__ import annotations

from collections.abc import Iterable

from shared.problems import Conflict, NotFound, Problem, Unprocessable


class RepEmailTaken(Conflict):
    title = "Rep email taken"
    slug = "rep-email-taken"


class RepNotFound(NotFound):
    title = "Rep not found"
    slug = "rep-not-found"


class AbsenceNotFound(NotFound):
    title = "Absence not found"
    slug = "absence-not-found"


class HolidayNotFound(NotFound):
    title = "Holiday not found"
    slug = "holiday-not-found"


class LeadNotAssigned(NotFound):
    title = "Lead not assigned"
    slug = "lead-not-assigned"


class AssignmentNotFound(NotFound):
    title = "Assignment not found"
    slug = "assignment-not-found"


class NotYourAssignment(Problem):
    """A rep acting on another rep's assignment or queue."""

    status = 403
    title = "Forbidden"
    slug = "not-your-assignment"


class RepSelfServiceOnly(Problem):
    """A rep changing another rep, or a field only a manager may change."""

    status = 403
    title = "Forbidden"
    slug = "rep-self-service-only"


class IllegalTransition(Conflict):
    title = "Illegal transition"
    slug = "illegal-transition"

    def __init__(self, current: str, outcome: str, allowed: Iterable[str]) -> None:
        allowed = sorted(allowed)
        super().__init__(
            f"an assignment in status {current!r} cannot become {outcome!r}",
            current_status=current,
            allowed=allowed,
        )


class DispositionInvalid(Unprocessable):
    title = "Disposition invalid"
    slug = "disposition-invalid"


class RuleSetRejected(Unprocessable):
    """A rule set document failed validation; the problem lists every error with its path."""

    title = "Invalid routing rule set"
    slug = "invalid-rule-set"


class RuleSetVersionExists(Conflict):
    title = "Rule set version exists"
    slug = "rule-set-version-exists"


class RuleSetVersionNotFound(NotFound):
    title = "Rule set version not found"
    slug = "rule-set-version-not-found"


class RuleSetNotDraft(Conflict):
    title = "Rule set is not a draft"
    slug = "rule-set-not-draft"
