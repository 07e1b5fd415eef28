"""The seeded market's measures on small data (the bench itself runs in `make evaluate`)."""

from __future__ import annotations

import pytest

from bench.market import Measure, difference_interval, gain_share, market


def test_the_share_of_the_possible_gain_is_0_for_everyone_and_1_for_the_truth() -> None:
    chances = [0.1, 0.9, 0.4, 0.7, 0.2]
    assert gain_share(chances, [1, 3]) == pytest.approx(1.0)
    assert gain_share(chances, [0, 1, 2, 3, 4]) == 0.0
    assert gain_share(chances, [0, 4]) < 0
    assert gain_share(chances, []) == 0.0


def test_the_lift_interval_brackets_the_difference() -> None:
    lift, low, high = difference_interval(Measure(1000, 0.2, 250), Measure(1000, 0.6, 400))
    assert lift == pytest.approx(0.15)
    assert low < lift < high
    assert low > 0


def test_the_market_is_seeded() -> None:
    assert [lead.chance for lead in market(50, seed=4)] == [lead.chance for lead in market(50, seed=4)]
    assert all(0 < lead.chance < 1 for lead in market(200, seed=4))
