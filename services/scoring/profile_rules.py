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
from typing import Any, TypeVar

from services.scoring.conditions import PROFILE_FIELDS, PROFILE_PREFIXES, Condition
from services.scoring.evaluation import Profile
from services.scoring.predicates import MEMO_SIZE, MEMOABLE, Mask, Memo, Test, compile_test, mask_of
from shared.contracts import FiredRule

ATTRIBUTE_FIELDS = frozenset(PROFILE_FIELDS - {"email_domain"})
MAPPING_FIELDS = frozenset(prefix.removesuffix(".") for prefix in PROFILE_PREFIXES)


def _source(field: str, i: int) -> str:
    """The expression reading `field` from `d`, the profile's `__dict__` (where pydantic keeps
    the fields: one attribute access per lead instead of one per field). Only names from the
    fixed set reach the source; a custom key is the constant `K{i}`."""
    if field == "email_domain":
        return '(d["email"] or "").rpartition("@")[2].lower()'  # `Profile.email_domain`, inlined
    mapping, dot, _ = field.partition(".")
    if dot and mapping in MAPPING_FIELDS:
        return f'd["{mapping}"].get(K{i})'
    if field in ATTRIBUTE_FIELDS:
        return f'd["{field}"]'
    raise ValueError(f"unknown profile field {field!r}")


def _is_text(field: str) -> bool:
    """Whether the model guarantees the field's value is text or absent: then any value is a
    safe memo key and the key check is skipped."""
    if field == "email_domain" or field.startswith(PROFILE_PREFIXES):
        return True
    return Profile.model_fields[field].annotation in (str, str | None)


# A fit or negative rule: its conditions, its explanation when it fires, whether it disqualifies.
ProfileRule = tuple[Sequence[Condition], FiredRule, bool]
Outcome = TypeVar("Outcome")
# (fired rules in rubric order, their summed points, whether one disqualifies) -> the outcome
Finish = Callable[[list[FiredRule], float, bool], Outcome]


def compile_profile_rules(
    fields: Sequence[str],
    rules: Sequence[ProfileRule],
    finish: Finish[Outcome],
) -> Callable[[Profile], Outcome]:
    """One function evaluating `rules` (conditions, explanation, disqualifies) in order and
    returning `finish` of what fired, computed once per distinct combination of conditions met."""
    slot = {field: i for i, field in enumerate(fields)}
    field_tests: list[list[tuple[Mask, Test]]] = [[] for _ in fields]
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
    lines = ["def profile_rules(p):", "    d = p.__dict__"]
    for i, field in enumerate(fields):
        memo: Memo = {}
        namespace.update(
            {f"K{i}": field.partition(".")[2], f"M{i}": memo, f"C{i}": mask_of(field_tests[i], memo)}
        )
        lines.append(f"    v{i} = {_source(field, i)}")
        if _is_text(field):
            lines.append(f"    k{i} = M{i}.get(v{i})")
        else:
            lines.append(f"    k{i} = M{i}.get(v{i}) if v{i}.__class__ in MEMOABLE else None")
        lines += [f"    if k{i} is None:", f"        k{i} = C{i}(v{i})"]
    union = " | ".join(f"k{i}" for i in range(len(fields))) or "0"
    lines += [
        f"    mask = {union}",
        "    outcome = OUTCOMES.get(mask)",
        "    return OUTCOME_OF(mask) if outcome is None else outcome",
    ]
    exec(compile("\n".join(lines), "<profile rules>", "exec"), namespace)
    function: Callable[[Profile], Outcome] = namespace["profile_rules"]
    return function
