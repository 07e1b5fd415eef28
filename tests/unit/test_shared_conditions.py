"""The condition language scoring's rubric and routing's rules share: one text form, one range test."""

from __future__ import annotations

import pytest

from services.routing.conditions import Range as RoutingRange
from services.scoring.conditions import ProfileRange
from shared.conditions import FieldValue, comparable, in_range, normalize


class TestNormalize:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            ("  ACME Corp ", "acme corp"),
            (True, "true"),
            (False, "false"),
            (50.0, "50"),
            (2.5, "2.5"),
            (7, "7"),
        ],
    )
    def test_values_compare_as_one_text_form(self, value: str | float | bool, text: str) -> None:
        assert normalize(value) == text

    @pytest.mark.parametrize("value", [None, "", "   "])
    def test_an_empty_field_has_no_comparable_text(self, value: str | None) -> None:
        assert comparable(value) is None


class TestInRange:
    def test_bounds_are_inclusive(self) -> None:
        assert in_range(10, 10, 20)
        assert in_range("20", 10, 20)
        assert not in_range(21, 10, 20)

    @pytest.mark.parametrize("value", [None, True, "many", float("nan"), 10**400])
    def test_what_is_no_finite_number_is_never_in_range(self, value: FieldValue) -> None:
        assert not in_range(value, None, 10**6)

    def test_scoring_and_routing_ranges_answer_alike(self) -> None:
        scoring = ProfileRange(field="company_size", op="range", min=50, max=500)
        routing = RoutingRange(field="company_size", op="range", min=50, max=500)
        for probe in (None, 49, 50, "500", 501, 10**400, "n/a", True):
            assert scoring.matches(probe) == routing.matches(probe)
