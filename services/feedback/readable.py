"""The parts of a rubric document tuning reads, checked before anything is computed.

Feedback does not own the rubric language (scoring validates all of it when the draft is
submitted); it only needs the bands, the rules' ids and points and the MQL criteria to be there
and numeric, so a malformed document is a 422 and never a half-computed proposal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.feedback.tuning import TUNABLE_KINDS


def rubric_problems(rubric: Mapping[str, Any]) -> list[str]:
    """What tuning cannot read in a rubric document (scoring validates the rest of the language
    when the draft is submitted); empty when it can be tuned."""
    problems = []
    grades = rubric.get("grades")
    if (
        not isinstance(grades, list)
        or not grades
        or not all(isinstance(g, dict) and "grade" in g for g in grades)
    ):
        problems.append("grades: a list of bands, each with a grade")
    else:
        for i, band in enumerate(grades):
            if not _number_or_none(band.get("min_fit")) or (i == len(grades) - 1) != (
                band.get("min_fit") is None
            ):
                problems.append(f"grades.{i}.min_fit: a number on every band but the last, which has none")
    for kind in TUNABLE_KINDS:
        rules = rubric.get(kind) or []
        if not isinstance(rules, list):
            problems.append(f"{kind}: a list of rules")
            continue
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict) or not isinstance(rule.get("id"), str):
                problems.append(f"{kind}.{i}: a rule with an id")
            elif not _number_or_none(rule.get("points")) or rule.get("points") is None:
                problems.append(f"{kind}.{i}.points: a number")
            elif not _number_or_none(rule.get("cap")):
                problems.append(f"{kind}.{i}.cap: a number")
    qualification = rubric.get("qualification") or {}
    criteria = qualification.get("mql") if isinstance(qualification, dict) else None
    if not isinstance(qualification, dict) or not isinstance(criteria or [], list):
        problems.append("qualification: a mapping with a list of mql criteria")
    elif not all(isinstance(c, dict) and _number_or_none(c.get("min_engagement")) for c in criteria or []):
        problems.append("qualification.mql: criteria with a grade_at_least and a numeric min_engagement")
    elif not _number_or_none(qualification.get("min_total")):
        problems.append("qualification.min_total: a number")
    return problems


def _number_or_none(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))
