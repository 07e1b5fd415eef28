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

    def __init__(
        self, current: str, outcome: str, allowed: Iterable[str], *, allowed_are: str = "next"
    ) -> None:
        """`allowed` lists the next states (`allowed_are="next"`) or, for an action such as a
        decline, the statuses it may be taken from (`"statuses"`)."""
        allowed = sorted(allowed)
        detail = (
            f"an assignment in status {current!r} cannot become {outcome!r}"
            if allowed_are == "next"
            else f"an assignment in status {current!r} cannot be {outcome}"
        )
        super().__init__(detail, current_status=current, allowed=allowed, allowed_are=allowed_are)


class NotYourTeam(Problem):
    """A manager acting on (or handing a lead to) a rep outside their team."""

    status = 403
    title = "Forbidden"
    slug = "not-your-team"


class CannotReassign(Unprocessable):
    """A reassignment to the rep who holds the lead, or to a rep who cannot take it."""

    title = "Cannot reassign"
    slug = "cannot-reassign"


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


class CommitmentNotMet(Conflict):
    """Dropping a lead before sales kept the agreement's attempt commitment for its tier."""

    title = "Commitment not met"
    slug = "commitment-not-met"
