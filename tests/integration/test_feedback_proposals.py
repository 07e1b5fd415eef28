"""Rubric proposals from judged MQLs, and the dashboard page, on the real database."""

from __future__ import annotations

import uuid
from datetime import timedelta
from importlib.resources import files
from typing import Any

import yaml

from services.feedback.main import create_app
from shared.auth import Role
from shared.contracts import AnyEvent, FiredRule, LeadScored, LeadScoredPayload
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.integration.test_feedback_facts import T0, Journey, apply, fact_row
from tests.support.apps import running_app

SALES = bearer(Role.SALES)


def starter() -> dict[str, Any]:
    text = (files("services.scoring.rubrics") / "starter.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def scored(
    journey: Journey, rubric: str, *rules: tuple[str, str, float], hand_raiser: bool = False
) -> LeadScored:
    fired = [FiredRule(rule_id=r, kind=k, points=p, reason=r) for r, k, p in rules]  # type: ignore[arg-type]
    reason = "hand_raiser" if hand_raiser else "threshold"
    fired.append(FiredRule(rule_id=f"mql.{reason}", kind="qualification", points=0, reason=reason))
    payload = LeadScoredPayload(
        rubric_version=rubric,
        score=sum(p for _, _, p in rules),
        fit_score=0,
        engagement_score=0,
        grade="B",
        is_mql=True,
        fired_rules=fired,
    )
    return LeadScored.new(
        lead_id=journey.lead_id, payload=payload, producer="scoring", occurred_at=T0 + timedelta(seconds=1)
    )


EXECUTIVE = ("title-executive", "fit", 25.0)
MANAGER = ("title-manager", "fit", 15.0)
MID_MARKET = ("company-size-mid-market", "fit", 20.0)
KNOWN = ("company-known", "fit", 5.0)
FORM = ("form-submission", "engagement", 20.0)


async def judged_history(db: Database, rubric: str, *, leads: int) -> None:
    """Executives of mid-market companies become SQLs 7 times in 10; managers 1 in 10."""
    events: list[AnyEvent] = []
    for i in range(leads):
        journey = Journey()
        executive = i % 2 == 0
        rules = (EXECUTIVE, MID_MARKET, FORM) if executive else (MANAGER, MID_MARKET, KNOWN, FORM)
        converts = (i // 2) % 10 < (7 if executive else 1)
        events += [journey.ingested(T0), scored(journey, rubric, *rules), journey.assigned(T0)]
        events.append(journey.dispositioned(T0 + timedelta(minutes=5), "accepted"))
        if converts:
            events.append(journey.dispositioned(T0 + timedelta(days=1), "sql"))
        else:
            events.append(journey.dispositioned(T0 + timedelta(days=1), "rejected", reason="no budget"))
    await apply(db, events)


class TestProposals:
    async def test_evidence_per_rule_and_a_draft_that_raises_the_bar(
        self, db: Database, settings_env: Infra
    ) -> None:
        rubric = f"tune-{uuid.uuid4().hex[:8]}"
        await judged_history(db, rubric, leads=80)
        body = {
            "rubric": starter(),
            "version": "2026.11-tuned-1",
            "target_precision": 0.6,
            "max_points_change": 0,
            "method": "lift",
        }
        async with running_app(create_app()) as client:
            response = await client.post(
                "/v1/proposals", params={"rubric_version": rubric}, json=body, headers=SALES
            )
        assert response.status_code == 200, response.text
        proposal = response.json()
        assert proposal["ready"] is True
        assert (proposal["outcomes"], proposal["sql"]) == (80, 32)
        rules = {r["rule_id"]: r for r in proposal["rules"]}
        assert (rules["title-executive"]["leads"], rules["title-executive"]["sql"]) == (40, 28)
        assert rules["title-executive"]["lift"] == 0.7 / 0.4
        assert rules["title-manager"]["interval"]["high"] < 0.4
        assert proposal["bar"]["grade"] == "B"
        assert (proposal["bar"]["current"], proposal["bar"]["proposed"]) == (35, 41)
        assert proposal["bar"]["precision_after"] == 0.7
        draft = yaml.safe_load(proposal["draft_yaml"])
        assert draft == proposal["draft"]
        assert draft["version"] == "2026.11-tuned-1"
        assert [g.get("min_fit") for g in draft["grades"]] == [66, 41, 21, None]

    async def test_no_draft_below_the_minimum_number_of_outcomes(
        self, db: Database, settings_env: Infra
    ) -> None:
        rubric = f"tune-{uuid.uuid4().hex[:8]}"
        await judged_history(db, rubric, leads=10)
        async with running_app(create_app()) as client:
            response = await client.post(
                "/v1/proposals",
                params={"rubric_version": rubric},
                json={"rubric": starter(), "min_outcomes": 30},
                headers=SALES,
            )
        assert response.status_code == 200, response.text
        assert response.json()["ready"] is False
        assert response.json()["draft"] is None
        assert "at least 30" in response.json()["reasons"][0]

    async def test_only_company_readers_may_ask_for_a_proposal(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with running_app(create_app()) as client:
            response = await client.post(
                "/v1/proposals", json={"rubric": starter()}, headers=bearer(Role.SOURCE)
            )
        assert response.status_code == 403

    async def test_the_latest_scoring_keeps_its_fired_rules(self, db: Database) -> None:
        journey = Journey()
        await apply(db, [scored(journey, "v2", EXECUTIVE), journey.ingested(T0)])
        earlier = scored(journey, "v1", MANAGER).model_copy(update={"occurred_at": T0})
        await apply(db, [earlier])
        row = await fact_row(db, journey.lead_id)
        assert [r["rule_id"] for r in row["fired_rules"]] == ["title-executive", "mql.threshold"]
