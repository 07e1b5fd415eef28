"""The measured planning rates and their Wilson 95 % intervals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.feedback.funnel import Stage
from services.feedback.planning import planning_rates, wilson


def test_the_wilson_interval_matches_the_textbook_value() -> None:
    # Newcombe (1998), Statistics in Medicine 17, table I: 81 of 263 gives 0.2553 to 0.3662.
    low, high = wilson(81, 263) or (0, 0)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_no_trial_has_no_interval() -> None:
    assert wilson(0, 0) is None


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="3 successes out of 2"):
        wilson(3, 2)


@given(st.integers(min_value=1, max_value=10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_the_interval_holds_the_rate_and_stays_in_bounds(counts: tuple[int, int]) -> None:
    successes, trials = counts
    low, high = wilson(successes, trials) or (-1.0, -1.0)
    assert 0 <= low <= successes / trials <= high <= 1


def test_planning_rates_walk_the_funnel() -> None:
    counts = {Stage.INGESTED: 100, Stage.MQL: 40, Stage.ACCEPTED: 20, Stage.SQL: 10, Stage.WON: 5}
    rates = {r.name: (r.reached, r.started) for r in planning_rates(counts)}
    assert rates == {
        "lead_to_mql": (40, 100),
        "mql_to_sal": (20, 40),
        "sal_to_sql": (10, 20),
        "mql_to_sql": (10, 40),
        "sql_to_won": (5, 10),
    }
