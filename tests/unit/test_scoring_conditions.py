"""Property-based tests of the rubric's condition operators."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.scoring.conditions import ProfileEquals, ProfileExists, ProfileIn, ProfileRange

scalars = st.one_of(
    st.text(max_size=8),
    st.integers(-1000, 1000),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
)


class TestOperatorProperties:
    @given(values=st.lists(scalars, min_size=1, max_size=5), probe=scalars)
    def test_in_matches_exactly_when_some_equals_matches(self, values: list[Any], probe: Any) -> None:
        in_matches = ProfileIn(field="country", op="in", value=values).matches(probe)
        assert in_matches == any(
            ProfileEquals(field="country", op="equals", value=v).matches(probe) for v in values
        )

    @given(
        low=st.none() | st.integers(-1000, 1000),
        span=st.integers(0, 1000),
        probe=st.integers(-3000, 3000),
    )
    def test_range_is_inclusive_comparison(self, low: int | None, span: int, probe: int) -> None:
        high = (low or 0) + span
        condition = ProfileRange(field="company_size", op="range", min=low, max=high)
        assert condition.matches(probe) == ((low is None or probe >= low) and probe <= high)
        assert condition.matches(str(probe)) == condition.matches(probe)

    @given(probe=st.none() | st.text(max_size=5))
    def test_exists_and_not_exists_are_complements(self, probe: str | None) -> None:
        present = ProfileExists(field="phone", op="exists", value=True).matches(probe)
        absent = ProfileExists(field="phone", op="exists", value=False).matches(probe)
        assert present != absent
