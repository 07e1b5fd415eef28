"""A rubric's fit and negative rules generated into one straight-line Python function.

Every lead runs every profile rule, so the loop over rules and conditions is itself a cost: the
generated function reads each field once, then tests each rule with an inline expression over
precomputed constants (sets, needles, compiled patterns). Only constants from the validated
rubric reach it, by name: no rubric text is ever part of the generated source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from services.scoring.conditions import (
    PROFILE_FIELDS,
    Contains,
    Equals,
    Exists,
    FieldValue,
    In,
    Range,
    Regex,
)
from services.scoring.evaluation import Profile
from shared.contracts import FiredRule

if TYPE_CHECKING:
    from services.scoring.evaluation import Condition

ATTRIBUTE_FIELDS = frozenset(PROFILE_FIELDS - {"email_domain"})

# fired rules in rubric order, their summed points, whether one disqualifies
ProfileOutcome = tuple[list[FiredRule], float, bool]
ProfileRules = Callable[[Profile], ProfileOutcome]


def compile_profile_rules(
    readers: Sequence[tuple[str, Callable[[Profile], FieldValue]]],
    rules: Sequence[tuple[Sequence[Condition], FiredRule, bool]],
    *,
    text_of: Callable[[FieldValue], str | None],
    range_test: Callable[[float | None, float | None], Callable[[FieldValue, str | None], bool]],
) -> ProfileRules:
    """One function evaluating `rules` (conditions, explanation, disqualifies) in order."""
    namespace: dict[str, Any] = {"text_of": text_of}
    slot = {field: i for i, (field, _) in enumerate(readers)}
    lines = ["def profile_rules(p):"]
    for field, read in readers:
        i = slot[field]
        namespace[f"R{i}"] = read
        # Plain profile attributes are read inline; field names were validated against a fixed set.
        source = f"p.{field}" if field in ATTRIBUTE_FIELDS else f"R{i}(p)"
        lines.append(f"    v{i} = {source}")
        # `text_of` inlined for text, the common case: stripped, case-folded, None when blank.
        lines.append(
            f"    t{i} = None if v{i} is None else "
            f"((v{i}.strip().casefold() or None) if v{i}.__class__ is str else text_of(v{i}))"
        )
    lines += ["    fired = []", "    points = 0", "    disqualified = False"]
    for n, (conditions, explanation, disqualifies) in enumerate(rules):
        tests = []
        for m, condition in enumerate(conditions):
            name = f"K{n}_{m}"
            expression, constant = _expression(condition, slot[condition.field], name, range_test)
            namespace[name] = constant
            tests.append(f"({expression})")
        namespace[f"F{n}"] = explanation
        lines.append(f"    if {' and '.join(tests)}:")
        lines.append(f"        fired.append(F{n})")
        lines.append(f"        points += F{n}.points")
        if disqualifies:
            lines.append("        disqualified = True")
    lines.append("    return fired, points, disqualified")
    exec(compile("\n".join(lines), "<profile rules>", "exec"), namespace)
    function: ProfileRules = namespace["profile_rules"]
    return function


def _expression(
    condition: Condition,
    i: int,
    name: str,
    range_test: Callable[[float | None, float | None], Callable[[FieldValue, str | None], bool]],
) -> tuple[str, object]:
    """The test of one condition on field slot `i` (value `v{i}`, text `t{i}`), with `name`
    bound to its constant. Each is the condition's own `test`, inlined."""
    value, text = f"v{i}", f"t{i}"
    if isinstance(condition, Equals):
        return f"{text} == {name}", condition._target
    if isinstance(condition, In):
        return f"{text} is not None and {text} in {name}", condition._normalized
    if isinstance(condition, Contains):
        # An or-chain over the needles (a handful), cheaper than any() over a generator.
        chain = " or ".join(f"{name}[{k}] in {text}" for k in range(len(condition._needles)))
        return f"{text} is not None and ({chain})", condition._needles
    if isinstance(condition, Regex):
        subject = f"({value} if isinstance({value}, str) else {text})"
        return f"{text} is not None and {name}({subject}) is not None", condition._pattern.search
    if isinstance(condition, Exists):
        return f"({text} is not None) == {name}", condition.value
    if isinstance(condition, Range):
        return f"{name}({value}, {text})", range_test(condition.min, condition.max)
    raise TypeError(f"unknown condition {type(condition).__name__}")
