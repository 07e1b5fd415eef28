"""The agreement's lifecycle through the API: draft, approve by both teams, activate, re-score."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.scoring import service
from services.scoring.agreement import ActiveRubric
from services.scoring.main import create_app
from services.scoring.rubric import load_rubric
from services.scoring.worker import RescoreWorker
from shared.auth import Role
from shared.contracts import NO_LEAD, LeadIngested, LeadIngestedPayload, decode_event, utc_now
from shared.db import Database
from shared.kafka import create_producer
from tests.conftest import Infra, bearer
from tests.support.apps import running_service
from tests.support.waiting import eventually

MARKETING, SALES, MANAGER = bearer(Role.MARKETING), bearer(Role.SALES), bearer(Role.MANAGER)


def draft(version: str, *, min_total: float | None = 100) -> dict[str, Any]:
    document = load_rubric().model_dump(mode="json")
    document["version"] = version
    document["qualification"]["min_total"] = min_total
    return document


@pytest.fixture
async def client(db: Database, settings_env: Infra) -> AsyncIterator[httpx.AsyncClient]:
    async with running_service(create_app(), db) as client:
        yield client


async def seed_lead(db: Database, *, form_id: str, days_ago: float = 0) -> uuid.UUID:
    lead_id = uuid.uuid4()
    at = utc_now() - timedelta(days=days_ago)
    payload = LeadIngestedPayload(source="form", form_id=form_id, email=f"{lead_id}@acme.io", submitted_at=at)
    event = LeadIngested.new(lead_id=lead_id, payload=payload, producer="test", occurred_at=at)
    async with db.transaction() as session:
        await service.score_lead(session, rubric=load_rubric(), event=event)
    return lead_id


async def count(db: Database, sql: str, **params: Any) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(text(sql), params) or 0)


class TestDrafts:
    async def test_a_draft_is_created_listed_and_read(self, client: httpx.AsyncClient) -> None:
        created = await client.post("/v1/rubrics", json=draft("2026.12-a"), headers=MARKETING)
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["status"], body["created_by"]) == ("draft", "test-marketing")
        assert body["missing_approvals"] == ["marketing", "sales"]

        listed = (await client.get("/v1/rubrics", headers=bearer(Role.REP))).json()
        assert [v["version"] for v in listed] == ["2026.12-a"]
        assert listed[0]["document"] is None
        read = (await client.get("/v1/rubrics/2026.12-a", headers=MARKETING)).json()
        assert read["document"]["version"] == "2026.12-a"

    async def test_versions_are_never_reused(self, client: httpx.AsyncClient) -> None:
        assert (await client.post("/v1/rubrics", json=draft("v1"), headers=SALES)).status_code == 201
        again = await client.post("/v1/rubrics", json=draft("v1"), headers=SALES)
        assert again.status_code == 409
        starter = await client.post("/v1/rubrics", json=draft("2026.11-starter"), headers=SALES)
        assert starter.status_code == 409

    async def test_an_invalid_draft_is_rejected_with_every_error(self, client: httpx.AsyncClient) -> None:
        document = draft("bad")
        document["fit"][0]["when"][0]["field"] = "nope"
        document["sla"] = []
        response = await client.post("/v1/rubrics", json=document, headers=MARKETING)
        assert response.status_code == 422
        assert len(response.json()["errors"]) == 2

    async def test_editing_a_draft_withdraws_its_approvals(self, client: httpx.AsyncClient) -> None:
        await client.post("/v1/rubrics", json=draft("v2"), headers=MARKETING)
        await client.post("/v1/rubrics/v2/approvals", headers=MARKETING)
        edited = await client.put("/v1/rubrics/v2", json=draft("v2", min_total=90), headers=SALES)
        assert edited.status_code == 200, edited.text
        assert edited.json()["missing_approvals"] == ["marketing", "sales"]
        mismatch = await client.put("/v1/rubrics/v2", json=draft("v3"), headers=SALES)
        assert mismatch.status_code == 422

    async def test_a_stored_draft_is_diffed_against_the_active_rubric(
        self, client: httpx.AsyncClient
    ) -> None:
        await client.post("/v1/rubrics", json=draft("v4", min_total=80), headers=MARKETING)
        diff = (await client.get("/v1/rubrics/v4/diff", headers=MARKETING)).json()
        assert diff["from_version"] == "2026.11-starter"
        assert diff["changed_sections"] == ["qualification"]
        assert (await client.get("/v1/rubrics/nope/diff", headers=MARKETING)).status_code == 404

        edited = draft("v4", min_total=80)
        edited["fit"][0]["points"] = 1
        await client.put("/v1/rubrics/v4", json=edited, headers=MARKETING)
        diff = (await client.get("/v1/rubrics/v4/diff", headers=MARKETING)).json()
        assert [c["rule_id"] for c in diff["rules"]] == ["title-executive"]


class TestApprovalAndActivation:
    async def test_one_team_cannot_activate_alone(self, client: httpx.AsyncClient) -> None:
        await client.post("/v1/rubrics", json=draft("v5"), headers=MARKETING)
        await client.post("/v1/rubrics/v5/approvals", headers=MARKETING)
        response = await client.post("/v1/rubrics/v5/activate", headers=MARKETING)
        assert response.status_code == 409
        problem = response.json()
        assert problem["missing_approvals"] == ["sales"]
        assert "needs approval from sales" in problem["detail"]

    async def test_only_marketing_and_sales_approve(self, client: httpx.AsyncClient) -> None:
        await client.post("/v1/rubrics", json=draft("v6"), headers=MARKETING)
        for role in (Role.MANAGER, Role.ADMIN, Role.REP):
            assert (await client.post("/v1/rubrics/v6/approvals", headers=bearer(role))).status_code == 403

    async def test_activation_retires_the_old_rubric_and_rescores_leads(
        self, client: httpx.AsyncClient, db: Database
    ) -> None:
        already = await seed_lead(db, form_id="demo-request")
        newcomer = await seed_lead(db, form_id="newsletter")
        # Under the draft any lead with a submission qualifies on total score.
        await client.post("/v1/rubrics", json=draft("v7", min_total=5), headers=MARKETING)
        await client.post("/v1/rubrics/v7/approvals", headers=MARKETING)
        approved = await client.post("/v1/rubrics/v7/approvals", headers=SALES)
        assert approved.json()["missing_approvals"] == []

        activated = await client.post("/v1/rubrics/v7/activate", headers=MANAGER)
        assert activated.status_code == 200, activated.text
        assert activated.json()["rescore"]["total"] == 2
        assert (await client.get("/v1/rubric", headers=MARKETING)).json()["version"] == "v7"

        async def finished() -> None:
            progress = (await client.get("/v1/rubrics/v7", headers=MARKETING)).json()["rescore"]
            assert progress["status"] == "finished"
            assert (progress["done"], progress["newly_qualified"]) == (2, 1)

        await eventually(finished, timeout_s=20)
        for lead_id in (already, newcomer):
            score = (await client.get(f"/v1/leads/{lead_id}/score", headers=MARKETING)).json()
            assert score["rubric_version"] == "v7"
            assert score["is_mql"] is True
        qualified = "SELECT count(*) FROM scoring.outbox WHERE key = :key AND event_type = 'lead.qualified'"
        assert await count(db, qualified, key=str(already)) == 1
        assert await count(db, qualified, key=str(newcomer)) == 1

        again = await client.post("/v1/rubrics/v7/activate", headers=MANAGER)
        assert again.status_code == 409
        assert (await client.put("/v1/rubrics/v7", json=draft("v7"), headers=MANAGER)).status_code == 409

    async def test_next_activation_retires_the_previous_version(self, client: httpx.AsyncClient) -> None:
        for version in ("v8", "v9"):
            await client.post("/v1/rubrics", json=draft(version), headers=MARKETING)
            await client.post(f"/v1/rubrics/{version}/approvals", headers=MARKETING)
            await client.post(f"/v1/rubrics/{version}/approvals", headers=SALES)
            assert (await client.post(f"/v1/rubrics/{version}/activate", headers=SALES)).status_code == 200
        statuses = {
            v["version"]: v["status"] for v in (await client.get("/v1/rubrics", headers=SALES)).json()
        }
        assert statuses == {"v8": "retired", "v9": "active"}

    async def test_activation_announces_itself_with_both_signatures(
        self, client: httpx.AsyncClient, db: Database
    ) -> None:
        for version in ("v10", "v11"):
            await client.post("/v1/rubrics", json=draft(version), headers=MARKETING)
            await client.post(f"/v1/rubrics/{version}/approvals", headers=MARKETING)
            await client.post(f"/v1/rubrics/{version}/approvals", headers=SALES)
            assert (await client.post(f"/v1/rubrics/{version}/activate", headers=MANAGER)).status_code == 200
        async with db.transaction() as session:
            values = (
                (
                    await session.execute(
                        text(
                            "SELECT value FROM scoring.outbox WHERE event_type = 'rubric.activated' ORDER BY id"
                        )
                    )
                )
                .scalars()
                .all()
            )
        events = [decode_event(value) for value in values]
        assert [e.payload.rubric_version for e in events][-2:] == ["v10", "v11"]  # type: ignore[union-attr]
        latest = events[-1]
        assert latest.lead_id == NO_LEAD
        assert latest.payload.previous_version == "v10"  # type: ignore[union-attr]
        assert set(latest.payload.approved_by) == {"marketing", "sales"}  # type: ignore[union-attr]


class TestRescoreWorker:
    async def test_rescoring_resumes_from_its_cursor_in_batches(
        self, client: httpx.AsyncClient, db: Database
    ) -> None:
        leads = [await seed_lead(db, form_id="newsletter") for _ in range(5)]
        app_worker: RescoreWorker = client._transport.app.state.rescore_worker  # type: ignore[attr-defined]
        await app_worker.stop()
        await client.post("/v1/rubrics", json=draft("w1"), headers=MARKETING)
        await client.post("/v1/rubrics/w1/approvals", headers=MARKETING)
        await client.post("/v1/rubrics/w1/approvals", headers=SALES)
        await client.post("/v1/rubrics/w1/activate", headers=SALES)

        worker = RescoreWorker(db, app_worker.active, interval_s=60, batch_size=2)
        assert await worker.run_once() == 5
        assert await worker.run_once() == 0
        rescored = "SELECT count(*) FROM scoring.score WHERE rubric_version = 'w1' AND lead_id = ANY(:ids)"
        assert await count(db, rescored, ids=leads) == 5


class TestDecayPass:
    async def test_the_periodic_pass_records_only_scores_that_moved(self, db: Database) -> None:
        faded = await seed_lead(db, form_id="newsletter", days_ago=30)
        fresh = await seed_lead(db, form_id="newsletter")
        worker = RescoreWorker(
            db,
            ActiveRubric(load_rubric()),
            interval_s=60,
            batch_size=10,
            decay_every=timedelta(hours=1),
            first_decay_after=timedelta(0),
        )
        assert await worker.run_once() == 2
        scores = "SELECT engagement_score FROM scoring.score WHERE lead_id = :id ORDER BY id"
        async with db.transaction() as session:
            assert list((await session.scalars(text(scores), {"id": faded})).all()) == [10, 5]
            assert list((await session.scalars(text(scores), {"id": fresh})).all()) == [10]
        assert await worker.run_once() == 0


class TestShadow:
    async def test_a_shadowing_draft_scores_live_traffic_but_publishes_nothing(
        self, client: httpx.AsyncClient, db: Database, settings_env: Infra
    ) -> None:
        await client.post("/v1/rubrics", json=draft("s1", min_total=5), headers=MARKETING)
        started = await client.put("/v1/rubrics/s1/shadow", headers=SALES)
        assert started.json()["shadow"] is True

        quiet, demo = uuid.uuid4(), uuid.uuid4()
        events = [
            LeadIngested.new(
                lead_id=lead_id,
                producer="test",
                payload=LeadIngestedPayload(
                    source="form", form_id=form_id, email=f"{lead_id}@acme.io", submitted_at=utc_now()
                ),
            )
            for lead_id, form_id in ((quiet, "newsletter"), (demo, "demo-request"))
        ]
        producer = create_producer(settings_env.kafka_bootstrap_servers, client_id="test-shadow")
        await producer.start()
        try:
            for event in events:
                await producer.send_and_wait("lead.ingested", value=event.to_bytes(), key=event.key)
        finally:
            await producer.stop()

        async def both_scored() -> None:
            report = (await client.get("/v1/rubrics/s1/shadow", headers=MARKETING)).json()
            assert report["leads_scored"] == 2
            assert report == {
                "rubric_version": "s1",
                "shadowing": True,
                "leads_scored": 2,
                "would_qualify": 2,
                "qualified": 1,
                "both": 1,
                "only_shadow": 1,
                "only_active": 0,
            }

        await eventually(both_scored, timeout_s=30)
        versions = "SELECT count(*) FROM scoring.outbox WHERE convert_from(value, 'UTF8') LIKE '%\"s1\"%'"
        assert await count(db, versions) == 0

        stopped = await client.delete("/v1/rubrics/s1/shadow", headers=SALES)
        assert stopped.json()["shadow"] is False
