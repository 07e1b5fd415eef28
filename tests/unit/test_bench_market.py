"""The seeded market's measures on small data (the bench itself runs in `make evaluate`)."""

from __future__ import annotations

import pytest

from bench.market import Measure, difference_interval, exit_code, gain_share, market, verdicts


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


def test_the_lift_interval_is_newcombes_hybrid_score_interval() -> None:
    # Newcombe (1998), method 10, from the Wilson intervals of 56/70 and 48/80: +0.200, [+0.0524, +0.3339].
    lift, low, high = difference_interval(Measure(80, 0.0, 48), Measure(70, 0.0, 56))
    assert lift == pytest.approx(0.2)
    assert low == pytest.approx(0.0524, abs=5e-4)
    assert high == pytest.approx(0.3339, abs=5e-4)


def test_each_criterion_of_done_when_is_judged_on_its_own() -> None:
    assert verdicts(0.71, -0.10, 0.05) == {"gain_share": True, "volume": True, "mql_to_sql": True}
    assert verdicts(0.69, 0.16, 0.0) == {"gain_share": False, "volume": False, "mql_to_sql": False}
    assert verdicts(0.7, -0.15, 0.001)["volume"] is True


def test_the_bench_exits_non_zero_when_any_seed_fails_a_criterion() -> None:
    passed = {"criteria": verdicts(0.71, 0.0, 0.05)}
    failed = {"criteria": verdicts(0.69, 0.0, 0.05)}
    assert exit_code([passed, passed]) == 0
    assert exit_code([passed, failed]) == 1
