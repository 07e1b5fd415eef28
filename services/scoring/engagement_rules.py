"""A rubric's engagement rules (and its hand-raiser test) generated into one pass over a lead's
activities.

`reference_evaluation._engagement` groups the activities by type, then tests every rule of the
type on every activity, and `reference_evaluation._qualification` reads them all again for a
hand-raiser. Here one generated loop visits each activity once (most recent first), computes its
age at most once, looks up which conditions its properties satisfy (a bit mask remembered per
property value) and appends the age to the list of every rule it matches; each rule with matches
then becomes its `FiredRule`. Only constants from the validated rubric reach the generated source, by name: no
rubric text is ever part of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.scoring.evaluation import SECONDS_PER_DAY, Activity, RuleKind
from services.scoring.predicates import Mask, Memo, Test, compile_test, mask_of
from services.scoring.rubric_sections import EngagementRule
from shared.conditions import FieldValue
from shared.contracts import FiredRule

# The activity type and property `reference_evaluation._qualification` reads for hand-raiser forms.
HAND_RAISER_TYPE = "form_submission"
HAND_RAISER_FORM_KEY = "form_id"


class HandRaisingEvent:
    """The hand-raiser found was an activity of a type the agreement counts as hand-raising.

    A source's own `hand_raiser` flag is not one: only the signed agreement names hand-raisers."""

    __slots__ = ("activity_type",)

    def __init__(self, activity_type: str) -> None:
        self.activity_type = activity_type


# The earliest hand-raiser: the form id of a hand-raiser form, or the hand-raising event; None
# if there is none.
HandRaiser = str | HandRaisingEvent | None
# (the engagement rules that fired in rubric order, the earliest hand-raiser); None when two
# activities share a moment and `ordered` was false: the caller then puts them in the
# reference's total order and passes `ordered`.
ActivityPass = Callable[[Sequence[Activity], datetime, bool], "tuple[list[FiredRule], HandRaiser] | None"]

_new_fired = FiredRule.__new__
# A pydantic model's state is its `__dict__` and three slots; their descriptors set them without
# `object.__setattr__`'s lookup by name.
_Setter = Callable[[object, object], None]
_set_dict: _Setter = BaseModel.__dict__["__dict__"].__set__
_set_fields_set: _Setter = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra: _Setter = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private: _Setter = BaseModel.__dict__["__pydantic_private__"].__set__
# Every field is given, so every rule shares one fields-set, as the fit rules share their whole
# `FiredRule`: the models are frozen, and pydantic copies the set before changing a copy's.
_ALL_FIELDS_SET = set(FiredRule.model_fields)


def fired_rule(rule_id: str, kind: RuleKind, points: float, reason: str, decay: float = 1.0) -> FiredRule:
    """A `FiredRule` built the way `model_construct` builds it, minus its per-call field walk:
    the values are ours and already valid, and this runs for every engagement rule that fires."""
    rule = _new_fired(FiredRule)
    _set_dict(
        rule, {"rule_id": rule_id, "kind": kind, "points": points, "reason": reason, "decay_factor": decay}
    )
    _set_fields_set(rule, _ALL_FIELDS_SET)
    _set_extra(rule, None)
    _set_private(rule, None)
    return rule


def compile_activity_pass(
    rules: Sequence[EngagementRule],
    hand_raiser_forms: Collection[str],
    hand_raiser_activities: Collection[str] = (),
) -> ActivityPass:
    """The engagement rules and the hand-raiser test as one function of the activities (most
    recent first) and `now`. `hand_raiser_forms` are case-folded."""
    namespace: dict[str, Any] = {"HR": {t: HandRaisingEvent(t) for t in hand_raiser_activities}}
    by_type: dict[str, list[int]] = {}
    for n, rule in enumerate(rules):
        by_type.setdefault(rule.activity, []).append(n)
        namespace[f"E{n}"] = _firing(rule)
    if hand_raiser_forms:
        by_type.setdefault(HAND_RAISER_TYPE, [])
    lines = ["def activity_pass(recent, now, ordered):"]
    lines += [f"    b{n} = []" for n in range(len(rules))]
    lines += [
        "    previous = None",
        "    raiser = None",
        "    for a in recent:",
        # The fields from the model's `__dict__`: one attribute access instead of three.
        "        f = a.__dict__",
        '        at = f["occurred_at"]',
        "        if at == previous and not ordered:",
        "            return None",
        "        previous = at",
        '        p = f["properties"]',
        '        t = f["type"]',
    ]
    if hand_raiser_activities:
        # Checked before the form, which wins for the same activity; a later (earlier in time)
        # hand-raiser overwrites, as the reference takes the earliest.
        lines += ["        if t in HR:", "            raiser = HR[t]"]
    for m, (activity, numbers) in enumerate(by_type.items()):
        namespace[f"T{m}"] = activity
        lines.append(f"        {'if' if m == 0 else 'elif'} t == T{m}:")
        forms = hand_raiser_forms if activity == HAND_RAISER_TYPE else ()
        lines += _matching(m, [rules[n] for n in numbers], numbers, forms, namespace)
    lines.append("    fired = []")
    for n in range(len(rules)):
        lines.append(f"    if b{n}:")
        lines.append(f"        fired.append(E{n}(b{n}))")
    lines.append("    return fired, raiser")
    exec(compile("\n".join(lines), "<activity pass>", "exec"), namespace)
    function: ActivityPass = namespace["activity_pass"]
    return function


def _matching(
    m: int,
    rules: list[EngagementRule],
    numbers: list[int],
    hand_raiser_forms: Collection[str],
    namespace: dict[str, Any],
) -> list[str]:
    """The body for activities of type `T{m}`: each property the rules test is read and its mask
    looked up once, then the age goes to every rule whose condition bits are all set."""
    keys: dict[str, list[tuple[Mask, Test]]] = {}
    needed: list[dict[str, Mask]] = []
    bit = 1
    for rule in rules:
        bits: dict[str, Mask] = {}
        for condition in rule.when:
            key = condition.field.removeprefix("properties.")
            keys.setdefault(key, []).append((bit, compile_test(condition)))
            bits[key] = bits.get(key, 0) | bit
            bit <<= 1
        needed.append(bits)
    if hand_raiser_forms:
        keys.setdefault(HAND_RAISER_FORM_KEY, []).append((bit, _is_hand_raiser_form(hand_raiser_forms)))
    # The age is worked out up front when some rule will need it, else only on a match.
    lazy = len(rules) == 1 and bool(needed[0])
    lines = [] if lazy or not rules else ["            age = (now - at).total_seconds()"]
    slot = {key: f"{m}_{i}" for i, key in enumerate(keys)}
    for key, tests in keys.items():
        s = slot[key]
        memo: Memo = {}
        namespace.update({f"K{s}": key, f"M{s}": memo, f"C{s}": mask_of(tests, memo)})
        lines += [
            f"            v{s} = p.get(K{s})",
            f"            k{s} = M{s}.get(v{s})",
            f"            if k{s} is None:",
            f"                k{s} = C{s}(v{s})",
        ]
    if hand_raiser_forms:
        s = slot[HAND_RAISER_FORM_KEY]
        lines += [f"            if k{s} & {bit}:", f'                raiser = "" if v{s} is None else v{s}']
    for n, bits in zip(numbers, needed, strict=True):
        if not bits:
            lines.append(f"            b{n}.append(age)")
            continue
        union = " and ".join(
            f"k{slot[key]} & {mask}" if mask.bit_count() == 1 else f"k{slot[key]} & {mask} == {mask}"
            for key, mask in bits.items()
        )
        age = "(now - at).total_seconds()" if lazy else "age"
        lines += [f"            if {union}:", f"                b{n}.append({age})"]
    if not rules and not hand_raiser_forms:
        lines.append("            pass")
    return lines


def _is_hand_raiser_form(forms: Collection[str]) -> Test:
    # The reference reads a missing form id as "".
    def test(value: FieldValue, text: str | None) -> bool:
        return ("" if value is None else str(value)).casefold() in forms

    return test


def _firing(rule: EngagementRule) -> Callable[[list[float]], FiredRule]:
    """`reference_evaluation._engagement` for one rule, given the ages in seconds of its matching
    activities, most recent first."""
    rule_id, points, limit, cap = rule.id, rule.points, rule.max_occurrences, rule.cap
    half_life_s = None if rule.half_life_days is None else rule.half_life_days * SECONDS_PER_DAY
    # Rounded down to the cent, so the rounded total still never exceeds the cap.
    cap_points = None if cap is None else math.floor(cap * 100 + 1e-9) / 100
    # The wording depends only on the number of matches and whether the cap bit, so each is built once.
    reasons: dict[int, str] = {}

    def reason_for(matching: int, counted: int, capped: bool) -> str:
        notes = [f"{counted}x {rule.activity}"]
        if counted < matching:
            notes.append(f"{matching - counted} more beyond the limit of {limit}")
        if capped:
            notes.append(f"capped at {cap:g}")
        reason = reasons[matching * 2 + capped] = f"{rule.description} ({', '.join(notes)})"
        return reason

    def fire(ages: list[float]) -> FiredRule:
        matching = len(ages)
        if limit and matching > limit:
            ages = ages[:limit]
        counted = len(ages)
        # The reference's float operations exactly: divided by the half-life (not multiplied by
        # its inverse), and summed with `sum`, except that one term needs no sum.
        if half_life_s is None:
            decayed = points * 1.0 if counted == 1 else sum([points * 1.0] * counted)
        elif counted == 1:
            age = ages[0]
            decayed = points * (0.5 ** (age / half_life_s) if age > 0 else 1.0)
        else:
            decayed = sum([points * (0.5 ** (age / half_life_s) if age > 0 else 1.0) for age in ages])
        total = round(decayed, 2)
        capped = cap is not None and total > cap
        if capped:
            total = cap_points  # type: ignore[assignment]
        reason = reasons.get(matching * 2 + capped) or reason_for(matching, counted, capped)
        fired = _new_fired(FiredRule)
        _set_dict(
            fired,
            {
                "rule_id": rule_id,
                "kind": "engagement",
                "points": total,
                "reason": reason,
                "decay_factor": round(decayed / (points * counted), 4),
            },
        )
        _set_fields_set(fired, _ALL_FIELDS_SET)
        _set_extra(fired, None)
        _set_private(fired, None)
        return fired

    return fire
