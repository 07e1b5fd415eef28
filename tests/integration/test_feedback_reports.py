"""Every report's numbers, exactly, from a scripted history replayed through feedback's handlers.

The history (`feedback_history.py`) is applied in a shuffled order with redeliveries, each
event in its own transaction through the same handlers the Kafka consumer calls; every figure
below was worked out by hand from the script, not read back from the code.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

import pytest

from services.feedback import service
from services.feedback.attribution import UNATTRIBUTED
from services.feedback.consumers import build_handlers
from services.feedback.errors import NotEnoughHistory
from services.feedback.funnel import Stage
from services.feedback.main import create_app
from services.feedback.repository import FactFilter
from services.feedback.review import Approval, DraftRubric, RuleChange
from shared.auth import Role
from shared.contracts import AnyEvent
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.apps import running_app, running_service
from tests.support.events import publish
from tests.support.feedback import EXECUTIVE, NOW, T0, D, Lead, scripted_events
from tests.support.waiting import eventually

ALL = FactFilter()
HANDLERS = build_handlers()
MANAGER = bearer(Role.MANAGER)


async def replay(db: Database, events: Sequence[AnyEvent], *, seed: int = 11) -> None:
    """Every event once in a shuffled order, then a third of them again (redelivery, replay)."""
    rng = random.Random(seed)
    shuffled = list(events)
    rng.shuffle(shuffled)
    for event in [*shuffled, *rng.sample(shuffled, len(shuffled) // 3)]:
        async with db.transaction() as session:
            await HANDLERS[event.event_type](session, event)


@pytest.fixture
async def history(db: Database) -> Database:
    await replay(db, scripted_events())
    return db


class TestScriptedHistory:
    async def test_funnel(self, history: Database) -> None:
        async with history.transaction() as session:
            funnel = await service.funnel_report(session, ALL)
        assert {s.stage.value: s.count for s in funnel.stages} == {
            "ingested": 7, "mql": 6, "assigned": 6, "accepted": 3,
            "rejected": 2, "sql": 3, "won": 2, "lost": 1, "recycled": 0,
        }  # fmt: skip
        assert [(c.rate, c.median_s) for c in funnel.conversions] == [
            (6 / 7, 5.0),  # 1, 2, 5, 5, 10, 30 s
            (1.0, 10.0),  # 6, 10, 10, 10, 20, 30 s
            (0.5, 1200.0),  # 300, 1200, 7140 s
            (1.0, 172_480.0),  # 171592, 172480, 252000 s
            (2 / 3, 1_944_000.0),  # 18 and 27 days
        ]

    async def test_speed_to_lead(self, history: Database) -> None:
        async with history.transaction() as session:
            rows = {r.key: r for r in await service.speed_to_lead(session, ALL, by="sla_tier")}
        hot, warm = rows["hot"], rows["warm"]
        # System (form → assignment): 8, 11, 15, 20, 25 s; human (→ first touch): 120, 300, 1200, 3600 s.
        assert (hot.system_n, hot.system_p50_s, hot.human_n, hot.human_p50_s) == (5, 15.0, 4, 750.0)
        assert hot.system_p95_s == pytest.approx(24.0, abs=1e-9)
        assert hot.human_p95_s == pytest.approx(3240.0, abs=1e-9)
        assert (warm.system_n, warm.system_p50_s, warm.system_p95_s) == (1, 60.0, 60.0)
        assert (warm.human_n, warm.human_p50_s, warm.human_p95_s) == (1, 600.0, 600.0)

    async def test_sales_sla(self, history: Database) -> None:
        async with history.transaction() as session:
            later = await service.sla_attainment(session, ALL, by="sla_tier", now=NOW)
            while_f_is_due = await service.sla_attainment(
                session, ALL, by="sla_tier", now=T0 + timedelta(days=40, seconds=100)
            )
        assert [(r.key, r.met, r.missed, r.pending, r.share_met) for r in later] == [
            ("hot", 2, 3, 0, 0.4),
            ("warm", 1, 0, 0, 1.0),
        ]
        assert [(r.key, r.met, r.missed, r.pending, r.share_met) for r in while_f_is_due] == [
            ("hot", 2, 2, 1, 0.5),
            ("warm", 1, 0, 0, 1.0),
        ]

    async def test_marketing_sla(self, history: Database) -> None:
        async with history.transaction() as session:
            months = await service.mql_delivery(session, ALL, monthly_target=4)
        assert [(m.month, m.mqls, m.target, m.share_of_target) for m in months] == [
            ("2026-11", 5, 4, 1.25),
            ("2026-12", 1, 4, 0.25),
        ]

    async def test_reasons(self, history: Database) -> None:
        async with history.transaction() as session:
            reasons = await service.reasons_report(session, ALL)
        assert [(r.reason, r.count, r.share, r.cumulative_share) for r in reasons.rejected] == [
            ("no budget", 1, 0.5, 0.5),
            ("student", 1, 0.5, 1.0),
        ]
        assert [(r.reason, r.count, r.share, r.cumulative_share) for r in reasons.lost] == [
            ("competitor", 1, 1.0, 1.0)
        ]

    async def test_attribution_by_source(self, history: Database) -> None:
        async with history.transaction() as session:
            report = await service.revenue_attribution(session, ALL, by="source")
        assert (report.deals, report.revenue) == (2, Decimal(4000))
        # The big deal: google (form) then newsletter (email click); the ad click after the win
        # and the untagged page view are not touches. The small deal: linkedin alone.
        assert [(r.key, r.deals, r.first_touch, r.last_touch, r.linear) for r in report.rows] == [
            ("google", 1, 3000, 0, 1500),
            ("newsletter", 1, 0, 3000, 1500),
            ("linkedin", 1, 1000, 1000, 1000),
        ]

    async def test_attribution_by_campaign(self, history: Database) -> None:
        async with history.transaction() as session:
            report = await service.revenue_attribution(session, ALL, by="campaign")
        assert [(r.key, r.first_touch, r.last_touch, r.linear) for r in report.rows] == [
            ("nurture", 0, 3000, 1500),
            ("spring", 3000, 0, 1500),
            (None, 1000, 1000, 1000),
        ]
        assert UNATTRIBUTED not in {r.key for r in report.rows}

    async def test_reverse_funnel(self, history: Database) -> None:
        async with history.transaction() as session:
            plan = await service.reverse_funnel(session, ALL, revenue_goal=Decimal(60_000), months=3)
        assert plan.average_deal == Decimal(2000)
        assert [(r.reached, r.started) for r in plan.rates] == [(6, 7), (3, 6), (2, 3)]
        # 20,000 a month at 2,000 a deal: 10 won; / (2/3) = 15 SQLs; / (1/2) = 30 MQLs; / (6/7) = 35 leads.
        assert [(n.stage, n.per_month, n.over_period) for n in plan.needs] == [
            (Stage.WON, 10, 30),
            (Stage.SQL, 15, 45),
            (Stage.MQL, 30, 90),
            (Stage.INGESTED, 35, 105),
        ]

    async def test_reverse_funnel_names_every_rate_it_cannot_measure(self, history: Database) -> None:
        december = FactFilter(ingested_from=T0 + timedelta(days=40))
        async with history.transaction() as session:
            with pytest.raises(NotEnoughHistory) as raised:
                await service.reverse_funnel(session, december, revenue_goal=Decimal(1000), months=1)
        assert raised.value.extensions["missing"] == [
            "MQL→SQL rate: none of the 1 MQLs reached SQL yet",
            "SQL→won rate: no SQL in the period yet",
            "average deal size: no won deal with an amount yet",
        ]

    async def test_replaying_in_another_order_gives_the_same_reports(self, history: Database) -> None:
        async with history.transaction() as session:
            before = await service.revenue_attribution(session, ALL, by="source")
        await replay(history, scripted_events()[::-1], seed=3)
        async with history.transaction() as session:
            after = await service.revenue_attribution(session, ALL, by="source")
        # A second script has new lead ids: every figure exactly doubles.
        assert [(r.key, r.linear * 2) for r in before.rows] == [(r.key, r.linear) for r in after.rows]


class OneDraft:
    """Scoring's side of the review, as its API would answer it (the HTTP path is covered by
    the dashboard's browser test against a real scoring)."""

    async def drafts_awaiting_approval(self) -> list[DraftRubric]:
        change = RuleChange(EXECUTIVE, "fit", "changed", 25, 30)
        return [
            DraftRubric(
                version="v2",
                created_by="marketing",
                created_at=T0,
                approvals=(Approval("marketing", "ann", T0),),
                missing_approvals=("sales",),
                document={"fit": [{"id": EXECUTIVE, "points": 30}, {"id": "title-manager", "points": 5}]},
                changes=(change,),
            )
        ]


class TestDraftReview:
    async def test_each_changed_rule_comes_with_the_outcomes_of_its_leads(self, history: Database) -> None:
        async with history.transaction() as session:
            [review] = await service.review_drafts(session, ALL, scoring=OneDraft())
        # Judged MQLs: both wins, both rejections and the loss; SQLs: the wins and the loss.
        assert (review.outcomes, review.sql) == (5, 3)
        [change] = review.changes
        assert change.evidence is not None
        # The executive rule fired for the big win, the late rejection and the loss.
        assert (change.evidence.leads, change.evidence.sql) == (3, 2)
        assert change.evidence.lift == pytest.approx((2 / 3) / (3 / 5))


class TestReportsOverHttp:
    async def test_without_scoring_configured_the_review_says_so(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with running_app(create_app()) as client:
            response = await client.get("/v1/reports/proposals", headers=MANAGER)
        assert response.status_code == 200
        assert response.json() == {"scoring_configured": False, "drafts": []}

    async def test_an_unreachable_scoring_is_a_bad_gateway_problem(
        self, db: Database, settings_env: Infra, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("BATON_SCORING_URL", "http://127.0.0.1:9")
        async with running_app(create_app()) as client:
            response = await client.get("/v1/reports/proposals", headers=MANAGER)
        assert response.status_code == 502
        assert response.json()["title"] == "Scoring unavailable"

    async def test_attribution_and_reverse_funnel_answer_json(
        self, history: Database, settings_env: Infra
    ) -> None:
        async with running_app(create_app()) as client:
            revenue = await client.get("/v1/reports/attribution", headers=MANAGER)
            plan = await client.get(
                "/v1/reports/reverse-funnel", params={"revenue_goal": "60000", "months": 3}, headers=MANAGER
            )
        assert revenue.status_code == 200, revenue.text
        assert revenue.json()["rows"][0] == {
            "key": "google", "deals": 1, "first_touch": 3000.0, "last_touch": 0.0, "linear": 1500.0,
        }  # fmt: skip
        assert plan.status_code == 200, plan.text
        assert [(n["stage"], n["per_month"]) for n in plan.json()["needs"]] == [
            ("won", 10), ("sql", 15), ("mql", 30), ("ingested", 35),
        ]  # fmt: skip

    async def test_reverse_funnel_without_history_is_a_problem_naming_what_is_missing(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with running_app(create_app()) as client:
            response = await client.get(
                "/v1/reports/reverse-funnel", params={"revenue_goal": "1000"}, headers=MANAGER
            )
            bad_goal = await client.get(
                "/v1/reports/reverse-funnel", params={"revenue_goal": "-5"}, headers=MANAGER
            )
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["title"] == "Not enough history"
        assert body["missing"][0] == "lead→MQL rate: no lead in the period yet"
        assert bad_goal.status_code == 422

    async def test_the_dashboard_is_served_at_the_root_and_the_old_address_redirects(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with running_app(create_app()) as client:
            page = await client.get("/")
            old = await client.get("/dashboard")
            script = await client.get("/static/dashboard.js")
            missing = await client.get("/static/../settings.py")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "UTC" in page.text
        assert '<script src="/static/charts.js">' in page.text
        assert (old.status_code, old.headers["location"]) == (308, "/")
        assert "/v1/reports/attribution" in script.text
        assert missing.status_code == 404


class TestTouchpointsFromKafka:
    async def test_a_campaign_click_on_the_broker_shares_the_revenue(
        self, db: Database, settings_env: Infra
    ) -> None:
        lead = Lead()
        events: list[AnyEvent] = [
            lead.dispositioned(T0 + 9 * D, "won", amount=Decimal("800.00")),
            lead.activity(T0 + D, "email_click", **{"utm.source": "newsletter", "utm.campaign": "nurture"}),
            lead.tagged(T0, utm={"source": "google", "campaign": "spring"}),
        ]
        app = create_app()
        async with running_service(app, db) as client:
            await publish(settings_env.kafka_bootstrap_servers, *events)

            async def attributed() -> None:
                response = await client.get("/v1/reports/attribution", headers=MANAGER)
                rows = [(r["key"], r["linear"]) for r in response.json()["rows"]]
                assert rows == [("google", 400.0), ("newsletter", 400.0)]

            await eventually(attributed, timeout_s=45)
