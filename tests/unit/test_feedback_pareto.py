"""Pareto ordering of rejection and loss reasons."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.feedback.pareto import UNSPECIFIED, pareto


class TestPareto:
    def test_reasons_come_most_frequent_first_with_running_share(self) -> None:
        rows = pareto({"budget": 2, "no fit": 5, "timing": 3})
        assert [(r.reason, r.count) for r in rows] == [("no fit", 5), ("timing", 3), ("budget", 2)]
        assert [r.share for r in rows] == [0.5, 0.3, 0.2]
        assert [r.cumulative_share for r in rows] == pytest.approx([0.5, 0.8, 1.0])

    def test_missing_and_blank_reasons_are_reported_as_unspecified(self) -> None:
        rows = pareto({None: 1, "  ": 2, "spam": 1})
        assert [(r.reason, r.count) for r in rows] == [(UNSPECIFIED, 3), ("spam", 1)]

    def test_ties_are_ordered_by_name(self) -> None:
        assert [r.reason for r in pareto({"b": 1, "a": 1})] == ["a", "b"]

    def test_no_reasons_give_no_rows(self) -> None:
        assert pareto({}) == ()
        assert pareto({"x": 0}) == ()

    @given(st.dictionaries(st.text(max_size=5) | st.none(), st.integers(min_value=0, max_value=100)))
    def test_shares_add_up_to_one_and_never_decrease_cumulatively(
        self, counts: dict[str | None, int]
    ) -> None:
        rows = pareto(counts)
        if not rows:
            assert sum(counts.values()) == 0
            return
        assert sum(r.share for r in rows) == pytest.approx(1.0)
        assert rows[-1].cumulative_share == pytest.approx(1.0)
        assert [r.count for r in rows] == sorted((r.count for r in rows), reverse=True)
