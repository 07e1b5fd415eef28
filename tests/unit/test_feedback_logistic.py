"""The logistic tuner on synthetic leads whose true weights are known."""

from __future__ import annotations

import functools
import math
import random
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.feedback.backtest import Backtest
from services.feedback.fitting import feature_rows, fit_logistic
from services.feedback.logistic import (
    ModelProposal,
    RulePoints,
    guardrail_notes,
    integer_points,
    points_scale,
    propose_from_model,
)
from services.feedback.tuning import Observation, Policy, Rescored, build_draft, qualifies, rescore
from services.feedback.volume import headroom, keep_volume, keep_volume_bar
from services.scoring.rubric import Rubric
from tests.unit.test_feedback_tuning import starter

# True log-odds per rule; the rest of the starter's rules are noise (weight 0).
TRUE_WEIGHTS = {
    "title-executive": 1.5,
    "title-manager": -0.5,
    "company-size-mid-market": 1.0,
    "company-size-smb": -1.0,
    "industry-target": 0.0,
    "free-mail": -1.5,
}
INTERCEPT = -0.5
STARTER = starter()


def synthetic(n: int, seed: int = 7, *, intercept: float = INTERCEPT) -> list[Observation]:
    """Leads with each rule firing independently and SQL drawn from the true logistic model.
    Everyone submitted one form (20 engagement points), so engagement carries no signal."""
    rng = random.Random(seed)
    points = {r["id"]: r["points"] for kind in ("fit", "negative") for r in STARTER[kind]}
    leads = []
    for _ in range(n):
        fired = {rule: 0.0 for rule in TRUE_WEIGHTS if rng.random() < 0.4}
        if "title-executive" in fired:
            fired.pop("title-manager", None)
        if "company-size-mid-market" in fired:
            fired.pop("company-size-smb", None)
        rules = {rule: float(points[rule]) for rule in fired}
        rules["form-submission"] = 20.0
        logit = intercept + sum(TRUE_WEIGHTS[r] for r in fired)
        sql = rng.random() < 1 / (1 + math.exp(-logit))
        leads.append(Observation(rules=rules, sql=sql))
    return leads


def points_of(document: dict[str, Any]) -> dict[str, float]:
    return {r["id"]: r["points"] for kind in ("fit", "negative", "engagement") for r in document[kind]}


class TestFit:
    def test_the_model_recovers_the_true_weights(self) -> None:
        leads = synthetic(4000)
        rule_ids = list(TRUE_WEIGHTS)
        model = fit_logistic(
            feature_rows(STARTER, leads, rule_ids), [o.sql for o in leads], rule_ids=rule_ids
        )
        assert model is not None
        for rule, weight in TRUE_WEIGHTS.items():
            assert model.weight(rule) == pytest.approx(weight, abs=0.25)
        assert model.intercept == pytest.approx(INTERCEPT, abs=0.25)

    def test_an_engagement_rule_counts_its_occurrences(self) -> None:
        lead = Observation(rules={"form-submission": 20.0, "title-executive": 25.0}, sql=True)
        rule_ids = ["form-submission", "title-executive", "student"]
        assert feature_rows(STARTER, [lead], rule_ids) == [[2.0, 1.0, 0.0]]

    def test_no_model_when_every_lead_ends_the_same_way(self) -> None:
        leads = [Observation(rules={"title-executive": 25.0}, sql=True)] * 10
        assert fit_logistic([[1.0]] * 10, [o.sql for o in leads], rule_ids=["title-executive"]) is None


class TestPoints:
    def test_the_scale_keeps_the_point_mass_of_the_rules_that_fired(self) -> None:
        leads = synthetic(500)
        model = fit_logistic(
            feature_rows(STARTER, leads, ["title-executive"]),
            [o.sql for o in leads],
            rule_ids=["title-executive"],
        )
        assert model is not None
        scale = points_scale(model, {"title-executive": 25.0}, {"title-executive": 10})
        assert scale is not None
        assert abs(model.weight("title-executive")) * scale == pytest.approx(25.0)

    @given(st.sampled_from(["fit", "negative", "engagement"]), st.floats(-5, 5), st.floats(0.1, 50))
    def test_points_are_integers_of_the_sign_the_kind_allows(
        self, kind: str, weight: float, scale: float
    ) -> None:
        """Engagement stays positive; a profile rule takes the model's sign (it may change list)."""
        points = integer_points(kind, weight, scale)
        assert isinstance(points, int)
        if kind == "engagement":
            assert points >= 1
        else:
            assert points == round(weight * scale)
        assert integer_points("negative", weight, scale, disqualify=True) <= 0


@functools.cache
def proposed_from_3000_leads() -> ModelProposal:
    """The one fit two tests read (it was fitted twice, the slowest work in this module)."""
    leads = synthetic(3000)
    return propose_from_model(STARTER, leads, leads, version="v2", policy=Policy(max_points_change=100))


class TestProposeFromModel:
    def test_points_follow_the_true_weights(self) -> None:
        result = proposed_from_3000_leads()
        assert result.proposal.ready, result.proposal.reasons
        points = {p.rule_id: p for p in result.points}
        assert points["title-executive"].proposed > points["company-size-mid-market"].proposed
        assert points["company-size-mid-market"].proposed > points["title-manager"].proposed
        assert points["title-manager"].proposed < 0  # a negative weight: the fit rule becomes a penalty
        assert points["free-mail"].proposed < -10
        assert points["industry-target"].proposed <= 3
        assert not points["student"].evidence
        assert points["student"].proposed == -30
        assert result.sql_model is not None
        assert result.backtest is not None
        assert result.backtest.auc_draft is not None
        assert result.backtest.auc_current is not None
        assert result.backtest.auc_draft > result.backtest.auc_current

    def test_the_draft_is_a_valid_rubric_of_the_same_shape(self) -> None:
        leads = synthetic(1000)
        result = propose_from_model(STARTER, leads, leads, version="2026.11-tuned-2")
        draft = result.proposal.draft
        assert draft is not None
        assert Rubric.from_document(draft).version == "2026.11-tuned-2"
        # The same rules, less those the model puts at 0 points (they leave the rubric).
        gone = {p.rule_id for p in result.points if p.proposed == 0 and p.kind == "fit"}
        assert points_of(draft).keys() == points_of(STARTER).keys() - gone
        assert all(float(p).is_integer() for p in points_of(draft).values())

    def test_a_change_past_the_limit_is_clipped_and_recorded(self) -> None:
        leads = synthetic(2000)
        result = propose_from_model(STARTER, leads, leads, version="v2", policy=Policy(max_points_change=3))
        clipped = [p for p in result.points if p.clipped]
        assert clipped
        for p in result.points:
            assert abs(p.proposed - p.current) <= 3
            assert p.model_points is not None or not p.evidence
        rows = {r.rule_id: r for r in result.proposal.rules}
        assert all(rows[p.rule_id].proposed_points == p.proposed for p in result.points)

    def test_no_proposal_below_the_minimum_number_of_outcomes(self) -> None:
        leads = synthetic(29)
        result = propose_from_model(STARTER, leads, leads, version="v2", policy=Policy(min_outcomes=30))
        assert not result.proposal.ready
        assert result.proposal.draft is None
        assert result.sql_model is None
        assert "at least 30" in result.proposal.reasons[0]

    def test_no_proposal_when_every_outcome_is_the_same(self) -> None:
        leads = [Observation(rules={"title-executive": 25.0}, sql=False) for _ in range(50)]
        result = propose_from_model(STARTER, leads, leads, version="v2")
        assert not result.proposal.ready
        assert "nothing to learn" in result.proposal.reasons[0]

    def test_the_bar_keeps_the_mql_volume_closest_to_today(self) -> None:
        leads = synthetic(1500, seed=11)
        result = propose_from_model(STARTER, leads, leads, version="v2", policy=Policy(max_points_change=100))
        assert result.proposal.bar is not None
        shift = int(result.proposal.bar.proposed - result.proposal.bar.current)
        new_points = {p.rule_id: p.proposed for p in result.points}
        today = sum(qualifies(x, STARTER, 0) for x in rescore(STARTER, leads, {}))
        draft = rescore(STARTER, leads, new_points)
        scale = result.engagement_scale

        def mqls(s: int) -> int:
            return sum(qualifies(x, STARTER, s, scale, result.total_scale) for x in draft)

        best = min(abs(mqls(s) - today) for s in range(-15, 16))
        assert abs(mqls(shift) - today) == best
        assert result.backtest is not None
        assert result.backtest.mqls_current == today

    def test_engagement_minimums_follow_falling_engagement_points(self) -> None:
        """Engagement points halved: a fixed minimum would block good-grade leads, so the
        minimum falls with the points and the floors need not make up for it."""
        rng = random.Random(3)
        leads = [
            Observation(
                rules={"title-executive": 25.0, "company-size-mid-market": 20.0}
                if rng.random() < 0.5
                else {"company-size-smb": 10.0},
                sql=False,
            )
            for _ in range(200)
        ]
        leads = [
            Observation(rules={**o.rules, "webinar-attended": float(rng.choice((0, 15, 30)))}, sql=False)
            for o in leads
        ]
        today = rescore(STARTER, leads, {})
        halved = rescore(STARTER, leads, {"webinar-attended": 7.5})
        shift, scale, total = keep_volume(STARTER, today, halved, max_shift=15, mass_ratio=0.5)
        assert scale == pytest.approx(0.5)
        assert sum(qualifies(x, STARTER, shift, scale, total) for x in halved) == sum(
            qualifies(x, STARTER, 0) for x in today
        )
        draft = build_draft(
            STARTER, {"webinar-attended": 7.5}, None, version="v2", outcomes=0, engagement_scale=scale
        )
        assert draft["qualification"]["mql"][0]["min_engagement"] == 10
        assert next(r for r in draft["engagement"] if r["id"] == "webinar-attended")["cap"] == 15

    def test_a_fit_rule_the_outcomes_contradict_becomes_a_penalty(self) -> None:
        """smb's true weight is negative: its points go below 0 and it moves to the negative list."""
        result = proposed_from_3000_leads()
        draft = result.proposal.draft
        assert draft is not None
        negative = {r["id"]: r["points"] for r in draft["negative"]}
        assert negative["company-size-smb"] < 0
        assert "company-size-smb" not in {r["id"] for r in draft["fit"]}
        assert "company-size-smb moves from fit to negative" in draft["description"]
        Rubric.from_document(draft)


class TestHeadroom:
    @settings(deadline=None, max_examples=200)
    @given(
        st.floats(-80, 150),
        st.floats(0, 80),
        st.booleans(),
        st.integers(min_value=-30, max_value=30),
    )
    def test_a_lead_qualifies_exactly_up_to_its_headroom(
        self, fit: float, engagement: float, hand_raiser: bool, shift: int
    ) -> None:
        lead = Rescored(fit=fit, engagement=engagement, hand_raiser=hand_raiser, sql=False)
        assert qualifies(lead, STARTER, shift) == (headroom(lead, STARTER) >= shift)


class TestGuardrails:
    @settings(deadline=None, max_examples=25)
    @given(
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=0, max_value=20),
        st.integers(min_value=0, max_value=20),
        st.integers(min_value=10, max_value=200),
    )
    def test_a_draft_needs_the_sample_and_never_moves_past_the_limits(
        self, seed: int, max_points: int, max_bar: int, n: int
    ) -> None:
        leads = synthetic(n, seed=seed)
        policy = Policy(min_outcomes=40, max_points_change=max_points, max_bar_change=max_bar)
        result = propose_from_model(STARTER, leads, leads, version="v2", policy=policy)
        if n < 40:
            assert result.proposal.draft is None
        if result.proposal.draft is None:
            return
        before, after = points_of(STARTER), points_of(result.proposal.draft)
        assert all(abs(after.get(k, 0) - before[k]) <= max_points for k in before)
        bar = result.proposal.bar
        assert bar is not None
        assert abs(bar.proposed - bar.current) <= max_bar
        assert keep_volume_bar(STARTER, [], [], max_shift=max_bar) == 0


def test_the_notes_say_which_guardrail_held_back_which_change_and_by_how_much() -> None:
    points = [
        RulePoints("title-vp", "fit", 20, model_points=41.5, proposed=30, clipped=True, evidence=True),
        RulePoints("industry-saas", "fit", 10, model_points=12, proposed=12, clipped=False, evidence=True),
    ]
    tested = Backtest(
        leads=1000,
        mqls_current=200,
        mqls_draft=260,
        volume_change=0.3,
        judged_current=150,
        judged_draft=140,
        mql_to_sql_current=0.3,
        mql_to_sql_draft=0.4,
        newly_qualified=50,
        auc_current=0.6,
        auc_draft=0.7,
    )
    notes = guardrail_notes(points, tested, Policy(max_points_change=10, max_bar_change=15), shift=-15)
    assert notes == (
        "max_points_change (10) held title-vp at 30 (the model's 41.5, 11.5 points held back)",
        "max_bar_change (15) stopped the grade floors at -15; MQL volume still moves +30.0%",
        "MQL volume moves +30.0%, outside the 15% tolerance the floors and engagement minimums could reach",
    )
    assert guardrail_notes(points[1:], replace(tested, volume_change=0.05), Policy(), shift=3) == ()
