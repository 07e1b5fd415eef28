from __future__ import annotations

from shared.problems import Problem


class InvalidPeriod(Problem):
    """The report period ends before it starts."""

    status = 422
    title = "Invalid period"
    slug = "invalid-period"
