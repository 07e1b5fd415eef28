"""Rubric tuning from outcomes: Wilson intervals, per-rule evidence, the bar, and the draft."""

from __future__ import annotations

import random
from importlib.resources import files
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from services.feedback.tuning import Observation, Policy, propose, rule_evidence, wilson


def starter() -> dict[str, Any]:
    text = (files("services.scoring.rubrics") / "starter.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def lead(*rules: str, sql: bool, engagement: float = 20.0, hand_raiser: bool = False) -> Observation:
    fired = dict.fromkeys(rules, 10.0)
    fired["form-submission"] = engagement
    return Observation(rules=fired, sql=sql, hand_raiser=hand_raiser)


def history(seed: int = 1, n: int = 200) -> list[Observation]:
    """Managers hardly convert; executives of mid-market companies convert best."""
    rng = random.Random(seed)
    leads = []
    for _ in range(n):
        rules = ["company-known", "country-core-market"]
        manager = rng.random() < 0.5
        rules.append("title-manager" if manager else "title-executive")
        p = 0.05 if manager else 0.35
        if rng.random() < 0.5:
            rules.append("company-size-mid-market")
            p += 0.0 if manager else 0.4
        leads.append(lead(*rules, sql=rng.random() < p))
    return leads


class TestWilson:
    def test_interval_of_a_known_proportion(self) -> None:
        interval = wilson(5, 10)
        assert interval is not None
        assert interval.low == pytest.approx(0.2366, abs=1e-4)
        assert interval.high == pytest.approx(0.7634, abs=1e-4)

    def test_no_trials_has_no_interval(self) -> None:
        assert wilson(0, 0) is None

    @given(st.integers(min_value=1, max_value=10_000), st.data())
    def test_interval_holds_the_observed_rate_within_zero_and_one(
        self, trials: int, data: st.DataObject
    ) -> None:
        successes = data.draw(st.integers(min_value=0, max_value=trials))
        interval = wilson(successes, trials)
        assert interval is not None
        assert 0.0 <= interval.low <= successes / trials + 1e-12
        assert successes / trials - 1e-12 <= interval.high <= 1.0


class TestRuleEvidence:
    def test_rules_that_convert_better_are_raised_and_worse_lowered(self) -> None:
        rows = {r.rule_id: r for r in rule_evidence(starter(), history(), Policy())}
        assert rows["company-size-mid-market"].verdict == "raise"
        assert rows["company-size-mid-market"].proposed_points > 20
        assert rows["title-manager"].verdict == "lower"
        assert rows["title-manager"].proposed_points < 15

    def test_a_rule_fired_for_everyone_has_nothing_to_compare_with(self) -> None:
        rows = {r.rule_id: r for r in rule_evidence(starter(), history(), Policy())}
        assert rows["company-known"].leads == 200
        assert rows["company-known"].verdict == "too few"
        assert rows["company-known"].proposed_points == 5

    def test_rules_that_never_fired_are_reported_with_no_rate(self) -> None:
        rows = {r.rule_id: r for r in rule_evidence(starter(), history(), Policy())}
        assert rows["student"].leads == 0
        assert rows["student"].rate is None
        assert rows["student"].verdict == "too few"

    @settings(deadline=None, max_examples=50)
    @given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=20))
    def test_no_rule_moves_more_than_the_limit_or_changes_sign(self, seed: int, limit: int) -> None:
        policy = Policy(max_points_change=limit)
        for row in rule_evidence(starter(), history(seed, 120), policy):
            assert abs(row.proposed_points - row.points) <= limit
            if row.kind == "negative":
                assert row.proposed_points <= 0
            else:
                assert row.proposed_points >= 1


class TestPropose:
    def test_no_proposal_below_the_minimum_number_of_outcomes(self) -> None:
        proposal = propose(starter(), history(n=20), version="v2", policy=Policy(min_outcomes=30))
        assert not proposal.ready
        assert proposal.draft is None
        assert "at least 30" in proposal.reasons[0]

    def test_draft_keeps_the_shape_and_carries_the_new_points_and_bar(self) -> None:
        proposal = propose(starter(), history(), version="2026.11-tuned-1")
        assert proposal.ready
        draft = proposal.draft
        assert draft is not None
        assert draft["version"] == "2026.11-tuned-1"
        assert [r["id"] for r in draft["fit"]] == [r["id"] for r in starter()["fit"]]
        points = {r["id"]: r["points"] for r in draft["fit"]}
        assert points["company-size-mid-market"] > 20
        assert "judged MQLs" in draft["description"]

    def test_bar_rises_until_the_evidence_reaches_the_target_precision(self) -> None:
        rng = random.Random(3)
        leads = [lead("title-executive", "company-size-mid-market", sql=i % 10 < 7) for i in range(60)]
        leads += [
            lead("title-manager", "company-size-mid-market", "company-known", sql=i % 5 == 0)
            for i in range(60)
        ]
        rng.shuffle(leads)
        policy = Policy(target_precision=0.6, max_points_change=0)
        proposal = propose(starter(), leads, version="v2", policy=policy)
        assert proposal.bar is not None
        assert proposal.bar.grade == "B"
        assert (proposal.bar.current, proposal.bar.proposed) == (35, 41)
        assert proposal.bar.precision_before == pytest.approx(0.45)
        assert proposal.bar.precision_after == pytest.approx(0.7)
        assert proposal.bar.volume_kept == pytest.approx(0.5)
        assert proposal.draft is not None
        assert [b.get("min_fit") for b in proposal.draft["grades"]] == [66, 41, 21, None]

    def test_hand_raisers_stay_qualified_whatever_the_bar(self) -> None:
        leads = [lead("title-manager", sql=False, hand_raiser=True) for _ in range(40)]
        leads += [lead("title-executive", "company-size-mid-market", sql=True) for _ in range(40)]
        proposal = propose(starter(), leads, version="v2", policy=Policy(target_precision=0.9))
        assert proposal.bar is not None
        assert proposal.bar.precision_after == pytest.approx(0.5)

    def test_the_bar_moves_at_most_the_limit(self) -> None:
        proposal = propose(
            starter(), history(), version="v2", policy=Policy(target_precision=0.99, max_bar_change=5)
        )
        assert proposal.bar is not None
        assert abs(proposal.bar.proposed - proposal.bar.current) <= 5

    def test_draft_is_a_valid_rubric(self) -> None:
        from services.scoring.rubric import Rubric

        proposal = propose(starter(), history(), version="2026.11-tuned-1")
        assert proposal.draft is not None
        assert Rubric.from_document(proposal.draft).version == "2026.11-tuned-1"


RULES = [
    "title-executive",
    "title-manager",
    "company-size-mid-market",
    "company-size-smb",
    "free-mail",
    "industry-target",
]


class TestGuardrails:
    @settings(deadline=None, max_examples=60)
    @given(
        st.lists(
            st.tuples(st.sets(st.sampled_from(RULES), min_size=1), st.booleans(), st.booleans()),
            min_size=0,
            max_size=150,
        ),
        st.integers(min_value=0, max_value=20),
        st.integers(min_value=0, max_value=20),
    )
    def test_a_draft_needs_the_minimum_sample_and_never_moves_past_the_limits(
        self, leads: list[tuple[set[str], bool, bool]], max_points: int, max_bar: int
    ) -> None:
        observations = [lead(*rules, sql=sql, hand_raiser=raiser) for rules, sql, raiser in leads]
        policy = Policy(min_outcomes=40, max_points_change=max_points, max_bar_change=max_bar)
        proposal = propose(starter(), observations, version="v2", policy=policy)
        if len(observations) < 40:
            assert not proposal.ready
        if proposal.draft is None:
            return
        before = {r["id"]: r["points"] for kind in ("fit", "negative", "engagement") for r in starter()[kind]}
        after = {
            r["id"]: r["points"] for kind in ("fit", "negative", "engagement") for r in proposal.draft[kind]
        }
        assert all(abs(after[k] - before[k]) <= max_points for k in before)
        assert proposal.bar is not None
        assert abs(proposal.bar.proposed - proposal.bar.current) <= max_bar
        if proposal.bar.proposed > proposal.bar.current:
            assert proposal.bar.volume_kept is not None
            assert proposal.bar.volume_kept >= policy.min_volume_kept
