"""The hand-raiser report's arithmetic: rates, Wilson intervals and lifts per form, persona and grade."""

from __future__ import annotations

import pytest

from services.feedback.hand_raisers import MqlTally, hand_raiser_report


def tally(
    form: str | None, persona: str | None, grade: str | None, raised: bool, mqls: int, judged: int, sql: int
) -> MqlTally:
    return MqlTally(form, persona, grade, raised, mqls, judged, sql, won=sql // 2)


TALLIES = [
    tally("demo-request", "buyer", "A", True, 12, 10, 8),
    tally("demo-request", "user", "C", True, 8, 6, 1),
    tally("contact-sales", "buyer", "A", True, 5, 4, 3),
    tally("newsletter", None, "B", False, 30, 20, 4),
]


def test_hand_raisers_are_counted_apart_from_the_threshold_mqls() -> None:
    report = hand_raiser_report(TALLIES)
    assert report.baseline_rate == pytest.approx(16 / 40)
    raised = report.hand_raisers
    assert (raised.mqls, raised.judged, raised.sql, raised.won) == (25, 20, 12, 5)
    assert raised.rate == pytest.approx(0.6)
    assert raised.lift == pytest.approx(0.6 / 0.4)
    threshold = report.by_threshold
    assert (threshold.mqls, threshold.judged, threshold.sql) == (30, 20, 4)
    assert threshold.rate == pytest.approx(0.2)


def test_each_form_has_its_rate_with_a_wilson_interval() -> None:
    by_form = {r.key: r for r in hand_raiser_report(TALLIES).by_form}
    assert list(by_form) == ["demo-request", "contact-sales"]
    demo = by_form["demo-request"]
    assert (demo.judged, demo.sql) == (16, 9)
    assert demo.rate == pytest.approx(9 / 16)
    # Wilson's 95 % interval for 9 of 16: 0.332 to 0.769.
    assert demo.interval is not None
    assert demo.interval.low == pytest.approx(0.3318, abs=1e-3)
    assert demo.interval.high == pytest.approx(0.7690, abs=1e-3)
    assert by_form["contact-sales"].lift == pytest.approx(0.75 / 0.4)


def test_personas_and_grades_split_the_same_hand_raisers() -> None:
    report = hand_raiser_report(TALLIES)
    by_persona = {r.key: (r.judged, r.sql) for r in report.by_persona}
    assert by_persona == {"buyer": (14, 11), "user": (6, 1)}
    by_grade = {r.key: (r.judged, r.sql) for r in report.by_grade}
    assert by_grade == {"A": (14, 11), "C": (6, 1)}
    assert "newsletter" not in {r.key for r in report.by_form}


def test_without_judged_mqls_there_is_no_rate_and_no_interval() -> None:
    report = hand_raiser_report([tally("demo-request", None, "A", True, 3, 0, 0)])
    assert report.baseline_rate is None
    row = report.by_form[0]
    assert (row.key, row.mqls, row.rate, row.interval, row.lift) == ("demo-request", 3, None, None, None)
    assert report.by_persona[0].key is None
    assert hand_raiser_report([]).hand_raisers.mqls == 0
