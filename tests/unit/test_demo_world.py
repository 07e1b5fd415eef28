"""The demo's simulated market and sales team: seeded, plausible, and true to the hidden truth."""

from __future__ import annotations

import random
from statistics import mean

from hypothesis import given, settings
from hypothesis import strategies as st

from baton.demo.report import Ledger, final_report, progress_bar, summary_line
from baton.demo.sales import plan
from baton.demo.world import HAND_RAISER_FORMS, Market, all_form_ids


def market(seed: int = 1, weeks: int = 2, leads: int = 100) -> Market:
    m = Market(seed, leads, "t")
    for week in range(weeks):
        m.week(week)
    return m


class TestMarket:
    def test_the_same_seed_gives_the_same_prospects_and_submissions(self) -> None:
        a, b = market(), market()
        assert [p.email for p in a.prospects] == [p.email for p in b.prospects]
        assert [s.idempotency_key for p in a.prospects for s in p.submissions] == [
            s.idempotency_key for p in b.prospects for s in p.submissions
        ]

    def test_another_seed_gives_another_market(self) -> None:
        assert [p.email for p in market(1).prospects] != [p.email for p in market(2).prospects]

    def test_traffic_has_noise_free_mail_junk_and_retries(self) -> None:
        prospects = market(weeks=4).prospects
        assert any(p.free_mail for p in prospects)
        assert any(p.junk for p in prospects)
        retries = [s for p in prospects for s in p.submissions if s.retry]
        assert retries
        keys = {s.idempotency_key for p in prospects for s in p.submissions if not s.retry}
        assert all(r.idempotency_key in keys for r in retries)

    def test_hidden_propensity_follows_fit_and_behaviour(self) -> None:
        prospects = market(weeks=6).prospects
        junk = [p.p_sql for p in prospects if p.junk]
        raisers = [p.p_sql for p in prospects if p.hand_raiser and not p.junk]
        free = [p.p_sql for p in prospects if p.free_mail and not p.junk]
        business = [p.p_sql for p in prospects if not p.free_mail and not p.junk]
        assert mean(junk) < 0.05
        assert mean(raisers) > mean(business) > mean(free)

    def test_every_form_posted_is_one_the_company_configures(self) -> None:
        forms = set(all_form_ids())
        assert set(HAND_RAISER_FORMS) <= forms
        assert {s.form_id for p in market().prospects for s in p.submissions} <= forms

    def test_submissions_arrive_within_their_week_first(self) -> None:
        m = Market(3, 50, "t")
        m.week(0)
        first = [p.submissions[0].at_hours for p in m.prospects]
        assert all(0 <= t < 168 for t in first)


class TestSalesTeam:
    @settings(deadline=None, max_examples=50)
    @given(st.integers(min_value=0, max_value=10_000))
    def test_every_plan_follows_routing_lifecycle(self, seed: int) -> None:
        rng = random.Random(seed)
        prospect = rng.choice(market(seed % 5 + 1, weeks=1, leads=20).prospects)
        steps = plan(prospect, rng.choice(["Ava Reyes", "Dev Patel", "Someone New"]), rng)
        assert steps[0].action == "touch"
        outcomes = [s.action for s in steps[1:]]
        assert outcomes in (
            ["rejected"],
            ["accepted", "lost"],
            ["accepted", "sql", "won"],
            ["accepted", "sql", "lost"],
        )
        assert [s.after_hours for s in steps] == sorted(s.after_hours for s in steps)
        assert all(s.reason for s in steps if s.action in {"rejected", "lost"})
        assert all(s.amount and s.amount > 0 for s in steps if s.action == "won")

    def test_verdicts_follow_the_hidden_truth(self) -> None:
        rng = random.Random(5)
        prospects = market(weeks=6).prospects
        sql = {p.index: any(s.action == "sql" for s in plan(p, "Ben Okafor", rng)) for p in prospects}
        good = [sql[p.index] for p in prospects if p.p_sql > 0.5]
        poor = [sql[p.index] for p in prospects if p.p_sql < 0.1]
        assert mean(good) > 0.5 > 0.1 > mean(poor)

    def test_junk_is_rejected_with_a_reason_that_says_why(self) -> None:
        rng = random.Random(1)
        students = [p for p in market(weeks=6).prospects if p.seniority == "student"]
        reasons = {s.reason for p in students for s in plan(p, "Ava Reyes", rng) if s.action == "rejected"}
        assert "student, not a buyer" in reasons


class TestReport:
    def test_before_and_after_per_rubric_version(self) -> None:
        ledger = Ledger(currency="EUR")
        first, last = ledger.of("starter"), ledger.of("tuned")
        first.leads, first.mqls, first.sqls, first.won, first.revenue = 100, 40, 10, 2, 20_000
        last.leads, last.mqls, last.sqls, last.won, last.revenue = 100, 30, 15, 5, 60_000
        speed = [
            {
                "key": "A",
                "system": {"n": 3, "p50_s": 0.2, "p95_s": 0.4},
                "human": {"n": 3, "p50_s": 200.0, "p95_s": 9000.0},
            }
        ]
        text = final_report(ledger, speed, [{"key": "A", "share_met": 0.9}])
        assert "25.0 % (starter) → 50.0 % (tuned), +25.0 points" in text
        assert "500 EUR → 2,000 EUR" in text
        assert "$" not in text
        assert "0.2 s / 0.4 s" in text
        assert "3.3 min / 2.5 h" in text
        assert "90.0 %" in text

    def test_summary_line_shows_the_live_numbers(self) -> None:
        line = summary_line(week=2, weeks=8, leads=10, mqls=4, sqls=1, judged=2, sla=None, version="v1")
        assert line.startswith(progress_bar(2, 8))
        assert "MQL→SQL 50.0 %" in line
        assert "SLA met -" in line
        assert line.endswith("rubric v1")
