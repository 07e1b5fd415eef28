"""Rule conditions as plain closures, and the per-value memo the compiled evaluator reads them through.

Each closure is its condition's own `test` (in `shared.conditions`) over precomputed constants.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from services.scoring.conditions import Condition
from shared.conditions import Contains, Equals, Exists, FieldValue, In, Range, Regex, comparable, in_range

# A test receives the raw value and its normalized text (None when the field is empty).
Test = Callable[[FieldValue, "str | None"], bool]
# The conditions a value satisfies, as bits; the answers for one field, by value.
Mask = int
Memo = dict[FieldValue, Mask]

# Answers are remembered per distinct value, which is bounded in practice (titles, domains,
# form ids, page paths come from small vocabularies) but not by anything we control.
MEMO_SIZE = 4096
# Values safe as memo keys: no two of them are equal unless they test alike (1, 1.0 and True
# are equal as keys but not as rule inputs, so floats and booleans are always tested afresh).
MEMOABLE = frozenset({str, int, type(None)})


def text_of(value: FieldValue) -> str | None:
    """`shared.conditions.comparable`, with the common cases (absent, text, whole number) first."""
    if value is None:
        return None
    cls = value.__class__
    if cls is str:
        stripped = value.strip()  # type: ignore[union-attr]
        return stripped.casefold() if stripped else None
    if cls is int:
        return str(value)
    return comparable(value)


def compile_test(condition: Condition) -> Test:
    """One condition as a closure over its precomputed constants."""
    if isinstance(condition, Equals):
        target = condition._target
        return lambda value, text: text == target
    if isinstance(condition, In):
        members = condition._normalized
        return lambda value, text: text is not None and text in members
    if isinstance(condition, Contains):
        needles = condition._needles
        return lambda value, text: text is not None and any(n in text for n in needles)
    if isinstance(condition, Regex):
        search = condition._pattern.search
        return lambda value, text: (
            text is not None and (search(value if isinstance(value, str) else text) is not None)
        )
    if isinstance(condition, Exists):
        wanted = condition.value
        return lambda value, text: (text is not None) == wanted
    if isinstance(condition, Range):
        low, high = condition.min, condition.max
        return lambda value, text: in_range(value, low, high)
    raise TypeError(f"unknown condition {type(condition).__name__}")


def mask_of(tests: Sequence[tuple[Mask, Test]], memo: Memo) -> Callable[[FieldValue], Mask]:
    """The function answering a memo miss: the bits of `tests` (bit, test) that `value`
    satisfies, remembered in `memo` when the value is a safe key."""

    def compute(value: FieldValue) -> Mask:
        text = text_of(value)
        mask = 0
        for bit, test in tests:
            if test(value, text):
                mask |= bit
        if value.__class__ in MEMOABLE:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[value] = mask
        return mask

    return compute
