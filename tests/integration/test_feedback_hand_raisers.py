"""The hand-raiser report through feedback's API, on the real database."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.feedback.main import create_app
from shared.auth import Role
from shared.contracts import AnyEvent, FiredRule, LeadScored, LeadScoredPayload
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.integration.test_feedback_facts import T0, Journey, apply
from tests.support.apps import running_app

MARKETING = bearer(Role.MARKETING)


def scored(
    journey: Journey, rubric: str, *, grade: str, persona: str | None, hand_raiser: bool
) -> LeadScored:
    reason = "hand_raiser" if hand_raiser else "threshold"
    payload = LeadScoredPayload(
        rubric_version=rubric,
        score=50,
        fit_score=30,
        engagement_score=20,
        grade=grade,
        is_mql=True,
        fired_rules=[FiredRule(rule_id=f"mql.{reason}", kind="qualification", points=0, reason=reason)],
        persona=persona,
    )
    return LeadScored.new(
        lead_id=journey.lead_id, payload=payload, producer="scoring", occurred_at=T0 + timedelta(seconds=1)
    )


async def history(db: Database, rubric: str) -> None:
    """Demo requests from economic buyers convert 7 in 10; contact-sales fills from practitioners
    2 in 10; newsletter MQLs by threshold 4 in 10. One more demo request is still open."""
    events: list[AnyEvent] = []
    groups = (
        ("demo-request", "economic-buyer", "A", True, 7),
        ("contact-sales", "practitioner", "C", True, 2),
        ("newsletter", None, "B", False, 4),
    )
    for form, persona, grade, raised, converting in groups:
        for i in range(10):
            journey = Journey()
            events += [
                journey.ingested(T0, form_id=form),
                scored(journey, rubric, grade=grade, persona=persona, hand_raiser=raised),
                journey.qualified(T0 + timedelta(seconds=1), grade=grade, rubric=rubric),
                journey.assigned(T0 + timedelta(seconds=2)),
                journey.dispositioned(T0 + timedelta(minutes=5), "accepted"),
            ]
            if i < converting:
                events.append(journey.dispositioned(T0 + timedelta(days=1), "sql"))
            else:
                events.append(journey.dispositioned(T0 + timedelta(days=1), "rejected", reason="no budget"))
    open_lead = Journey()
    events += [
        open_lead.ingested(T0, form_id="demo-request"),
        scored(open_lead, rubric, grade="A", persona="economic-buyer", hand_raiser=True),
        open_lead.qualified(T0 + timedelta(seconds=1), grade="A", rubric=rubric),
    ]
    await apply(db, events)


class TestHandRaiserReport:
    async def test_hand_raisers_convert_per_form_persona_and_grade(
        self, db: Database, settings_env: Infra
    ) -> None:
        rubric = f"raise-{uuid.uuid4().hex[:8]}"
        await history(db, rubric)
        async with running_app(create_app()) as client:
            response = await client.get(
                "/v1/reports/hand-raisers", params={"rubric_version": rubric}, headers=MARKETING
            )
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["baseline_rate"] == pytest.approx(13 / 30)
        assert {k: report["hand_raisers"][k] for k in ("mqls", "judged", "sql")} == {
            "mqls": 21,
            "judged": 20,
            "sql": 9,
        }
        assert (report["by_threshold"]["judged"], report["by_threshold"]["sql"]) == (10, 4)
        by_form = {r["key"]: r for r in report["by_form"]}
        assert list(by_form) == ["demo-request", "contact-sales"]
        demo = by_form["demo-request"]
        assert (demo["mqls"], demo["judged"], demo["sql"], demo["rate"]) == (11, 10, 7, 0.7)
        assert demo["lift"] == pytest.approx(0.7 / (13 / 30))
        assert demo["interval"]["low"] < 0.7 < demo["interval"]["high"]
        assert by_form["contact-sales"]["interval"]["high"] < 0.7
        assert {r["key"]: r["sql"] for r in report["by_persona"]} == {"economic-buyer": 7, "practitioner": 2}
        assert {r["key"]: r["rate"] for r in report["by_grade"]} == {"A": 0.7, "C": 0.2}

    async def test_a_rep_may_not_read_it(self, settings_env: Infra) -> None:
        async with running_app(create_app()) as client:
            response = await client.get("/v1/reports/hand-raisers", headers=bearer(Role.REP))
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("application/problem+json")
