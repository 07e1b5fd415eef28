"""A rubric's fit and negative rules generated into one straight-line Python function.

Every lead runs every profile rule, but the rules only ever see a handful of distinct values
per field (titles, domains, industries, countries, sizes). So the generated function reads each
field once and looks up which conditions its value satisfies (a bit mask, remembered per value),
and the union of those masks selects an outcome remembered per mask: the fired rules, their
points and whatever the caller derives from them (grade, SLA tier). Regexes and needles run
only the first time a value is seen. Only constants from the validated rubric reach the
generated source, by name: no rubric text is ever part of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from services.scoring.conditions import PROFILE_FIELDS, FieldValue
from services.scoring.evaluation import Profile
from services.scoring.predicates import MEMO_SIZE, MEMOABLE, Mask, Memo, Test, compile_test, mask_of
from shared.contracts import FiredRule

if TYPE_CHECKING:
    from services.scoring.evaluation import Condition

ATTRIBUTE_FIELDS = frozenset(PROFILE_FIELDS - {"email_domain"})
# `Profile.email_domain`, inlined: a property every lead pays for when a rule tests the domain.
INLINE_READERS = {"email_domain": 'p.email.rpartition("@")[2].lower()'}

Outcome = TypeVar("Outcome")
# (fired rules in rubric order, their summed points, whether one disqualifies) -> the outcome
Finish = Callable[[list[FiredRule], float, bool], Outcome]


def compile_profile_rules(
    readers: Sequence[tuple[str, Callable[[Profile], FieldValue]]],
    rules: Sequence[tuple[Sequence[Condition], FiredRule, bool]],
    finish: Finish[Outcome],
) -> Callable[[Profile], Outcome]:
    """One function evaluating `rules` (conditions, explanation, disqualifies) in order and
    returning `finish` of what fired, computed once per distinct combination of conditions met."""
    slot = {field: i for i, (field, _) in enumerate(readers)}
    field_tests: list[list[tuple[Mask, Test]]] = [[] for _ in readers]
    rule_masks: list[tuple[Mask, FiredRule, bool]] = []
    bit = 1
    for conditions, explanation, disqualifies in rules:
        needed = 0
        for condition in conditions:
            field_tests[slot[condition.field]].append((bit, compile_test(condition)))
            needed |= bit
            bit <<= 1
        rule_masks.append((needed, explanation, disqualifies))

    outcomes: dict[Mask, Outcome] = {}

    def outcome_of(mask: Mask) -> Outcome:
        fired = [explanation for needed, explanation, _ in rule_masks if mask & needed == needed]
        disqualified = any(d for needed, _, d in rule_masks if d and mask & needed == needed)
        # Summed as the reference sums them, so the rounding is the same.
        outcome = finish(fired, sum(r.points for r in fired), disqualified)
        if len(outcomes) >= MEMO_SIZE:
            outcomes.clear()
        outcomes[mask] = outcome
        return outcome

    namespace: dict[str, Any] = {"MEMOABLE": MEMOABLE, "OUTCOMES": outcomes, "OUTCOME_OF": outcome_of}
    lines = ["def profile_rules(p):"]
    for field, read in readers:
        i = slot[field]
        memo: Memo = {}
        namespace.update({f"R{i}": read, f"M{i}": memo, f"C{i}": mask_of(field_tests[i], memo)})
        # Plain profile attributes are read inline; field names were validated against a fixed set.
        lines += [
            f"    v{i} = {INLINE_READERS.get(field, f'p.{field}')}"
            if field in INLINE_READERS or field in ATTRIBUTE_FIELDS
            else f"    v{i} = R{i}(p)",
            f"    k{i} = M{i}.get(v{i}) if v{i}.__class__ in MEMOABLE else None",
            f"    if k{i} is None:",
            f"        k{i} = C{i}(v{i})",
        ]
    union = " | ".join(f"k{slot[field]}" for field, _ in readers) or "0"
    lines += [
        f"    mask = {union}",
        "    outcome = OUTCOMES.get(mask)",
        "    return OUTCOME_OF(mask) if outcome is None else outcome",
    ]
    exec(compile("\n".join(lines), "<profile rules>", "exec"), namespace)
    function: Callable[[Profile], Outcome] = namespace["profile_rules"]
    return function
