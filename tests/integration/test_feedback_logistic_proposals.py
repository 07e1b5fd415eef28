"""Logistic rubric proposals from stored facts, and the path of their draft into scoring."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from services.feedback.main import create_app
from services.feedback.settings import FeedbackSettings
from services.scoring.main import create_app as create_scoring_app
from shared.auth import Role
from shared.contracts import AnyEvent, FiredRule, LeadScored, LeadScoredPayload
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.integration.test_feedback_facts import T0, Journey, apply
from tests.integration.test_feedback_proposals import (
    FORM,
    KNOWN,
    MANAGER,
    judged_history,
    starter,
)
from tests.support.apps import running_app

SALES, MARKETING = bearer(Role.SALES), bearer(Role.MARKETING)


async def unqualified_leads(db: Database, rubric: str, *, leads: int) -> None:
    """Managers of unknown-size companies: scored, grade C, never MQLs, never judged."""
    events: list[AnyEvent] = []
    for _ in range(leads):
        journey = Journey()
        fired = [FiredRule(rule_id=r, kind=k, points=p, reason=r) for r, k, p in (MANAGER, KNOWN, FORM)]
        payload = LeadScoredPayload(
            rubric_version=rubric,
            score=40,
            fit_score=20,
            engagement_score=20,
            grade="C",
            is_mql=False,
            fired_rules=fired,
        )
        scored = LeadScored.new(
            lead_id=journey.lead_id,
            payload=payload,
            producer="scoring",
            occurred_at=T0 + timedelta(seconds=1),
        )
        events += [journey.ingested(T0), scored]
    await apply(db, events)


async def propose(
    rubric: str, body: dict[str, Any], settings: FeedbackSettings | None = None
) -> dict[str, Any]:
    async with running_app(create_app(settings)) as client:
        response = await client.post(
            "/v1/proposals", params={"rubric_version": rubric}, json=body, headers=SALES
        )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


class TestLogisticProposals:
    async def test_points_come_from_the_model_with_its_evidence_and_a_backtest(
        self, db: Database, settings_env: Infra
    ) -> None:
        rubric = f"model-{uuid.uuid4().hex[:8]}"
        await judged_history(db, rubric, leads=80)
        await unqualified_leads(db, rubric, leads=20)
        proposal = await propose(rubric, {"rubric": starter(), "version": "2026.11-model-1"})
        assert proposal["ready"] is True, proposal["reasons"]
        assert proposal["method"] == "logistic"
        model = proposal["model"]
        assert (model["outcome"], model["samples"], model["positives"]) == ("sql", 80, 32)
        assert model["coefficients"]["title-executive"] > 0 > model["coefficients"]["title-manager"]
        rules = {r["rule_id"]: r for r in proposal["rules"]}
        assert (rules["title-executive"]["leads"], rules["title-executive"]["sql"]) == (40, 28)
        assert rules["title-manager"]["interval"]["high"] < 0.4
        assert rules["title-manager"]["proposed_points"] < 15
        assert rules["title-executive"]["proposed_points"] > rules["title-manager"]["proposed_points"]
        assert rules["company-size-mid-market"]["verdict"] == "too few"  # it fired for every judged MQL
        backtest = proposal["backtest"]
        assert (backtest["leads"], backtest["mqls_current"], backtest["judged_current"]) == (100, 80, 80)
        assert backtest["mql_to_sql_current"] == 0.4
        assert backtest["auc_draft"] >= backtest["auc_current"]
        assert proposal["draft"]["version"] == "2026.11-model-1"
        assert proposal["activation"]["mode"] == "approval"

    async def test_a_change_past_the_limit_is_clipped_and_marked(
        self, db: Database, settings_env: Infra
    ) -> None:
        rubric = f"model-{uuid.uuid4().hex[:8]}"
        await judged_history(db, rubric, leads=80)
        proposal = await propose(rubric, {"rubric": starter(), "max_points_change": 2})
        clipped = [r for r in proposal["rules"] if r["clipped"]]
        assert clipped
        for rule in proposal["rules"]:
            assert abs(rule["proposed_points"] - rule["points"]) <= 2
        assert all(abs(r["model_points"] - r["points"]) > 2 for r in clipped)
        # The answer says which guardrail held back which change, and by how much.
        for rule in clipped:
            held = abs(rule["model_points"] - rule["proposed_points"])
            assert any(
                note.startswith(f"max_points_change (2) held {rule['rule_id']} at ")
                and f"{held:g} points held back" in note
                for note in proposal["held_back"]
            ), proposal["held_back"]

    async def test_no_draft_below_the_minimum_with_the_reason(
        self, db: Database, settings_env: Infra
    ) -> None:
        rubric = f"model-{uuid.uuid4().hex[:8]}"
        await judged_history(db, rubric, leads=20)
        proposal = await propose(rubric, {"rubric": starter(), "min_outcomes": 30})
        assert (proposal["ready"], proposal["draft"], proposal["model"]) == (False, None, None)
        assert proposal["reasons"] == ["only 20 judged MQLs; a proposal needs at least 30"]
        assert proposal["activation"] == {"mode": "approval", "reasons": ["no draft to activate"]}

    async def test_the_policy_flag_allows_auto_activation_only_within_its_limits(
        self, db: Database, settings_env: Infra
    ) -> None:
        rubric = f"model-{uuid.uuid4().hex[:8]}"
        await judged_history(db, rubric, leads=80)
        wide = FeedbackSettings(
            tuning_auto_activate=True,
            tuning_auto_max_points_change=100,
            tuning_auto_max_bar_change=100,
            tuning_auto_max_volume_change=10,
        )
        assert (await propose(rubric, {"rubric": starter()}, wide))["activation"]["mode"] == "auto"
        narrow = FeedbackSettings(tuning_auto_activate=True, tuning_auto_max_points_change=0)
        activation = (await propose(rubric, {"rubric": starter()}, narrow))["activation"]
        assert activation["mode"] == "approval"
        assert any("past the auto limit of 0" in reason for reason in activation["reasons"])

    async def test_an_unreadable_rubric_is_a_problem_not_a_proposal(
        self, db: Database, settings_env: Infra
    ) -> None:
        document = starter()
        document["fit"][0]["points"] = "many"
        del document["grades"]
        async with running_app(create_app()) as client:
            response = await client.post("/v1/proposals", json={"rubric": document}, headers=SALES)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        errors = {tuple(e["loc"]): e["msg"] for e in response.json()["errors"]}
        assert errors[("body", "rubric", "grades")] == "a list of bands, each with a grade"
        assert errors[("body", "rubric", "fit", 0, "points")] == "a number"

    async def test_scoring_takes_the_draft_as_a_draft_both_teams_must_approve(
        self, db: Database, settings_env: Infra
    ) -> None:
        rubric = f"model-{uuid.uuid4().hex[:8]}"
        await judged_history(db, rubric, leads=80)
        version = f"tuned-{uuid.uuid4().hex[:8]}"
        proposal = await propose(rubric, {"rubric": starter(), "version": version})
        async with running_app(create_scoring_app()) as scoring:
            created = await scoring.post("/v1/rubrics", json=proposal["draft"], headers=MARKETING)
            assert created.status_code == 201, created.text
            assert created.json()["missing_approvals"] == ["marketing", "sales"]
            activate = await scoring.post(f"/v1/rubrics/{version}/activate", headers=MARKETING)
        assert activate.status_code == 409
