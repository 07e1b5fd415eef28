"""Scoring end to end in-process: a real `lead.ingested` on Kafka in, scores and events out."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import text

from services.scoring.main import create_app
from shared.auth import Role
from shared.contracts import (
    LeadIngested,
    LeadIngestedPayload,
    LeadQualified,
    LeadScored,
    decode_event,
    utc_now,
)
from shared.db import Database
from shared.kafka import create_producer
from tests.conftest import Infra, bearer
from tests.support.apps import running_service
from tests.support.events import read_topic
from tests.support.waiting import eventually

READER = bearer(Role.MARKETING)


def ingested(lead_id: uuid.UUID, *, form_id: str = "newsletter", **fields: Any) -> LeadIngested:
    payload = LeadIngestedPayload(
        source="form",
        form_id=form_id,
        email=fields.pop("email", f"{lead_id}@acme.io"),
        submitted_at=utc_now(),
        **fields,
    )
    return LeadIngested.new(lead_id=lead_id, payload=payload, producer="test")


async def publish(infra: Infra, *events: LeadIngested) -> None:
    producer = create_producer(infra.kafka_bootstrap_servers, client_id="test-scoring")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait("lead.ingested", value=event.to_bytes(), key=event.key)
    finally:
        await producer.stop()


def keyed(lead_id: uuid.UUID) -> Any:
    def condition(records: list[ConsumerRecord[bytes, bytes]]) -> bool:
        return any(r.key == str(lead_id).encode() for r in records)

    return condition


def events_for(records: list[ConsumerRecord[bytes, bytes]], lead_id: uuid.UUID) -> list[Any]:
    return [decode_event(r.value) for r in records if r.key == str(lead_id).encode()]


async def score_of(
    client: httpx.AsyncClient, lead_id: uuid.UUID, *, history_length: int = 1
) -> dict[str, Any]:
    """The lead's score once `history_length` scores exist (waits for the consumer)."""
    found: dict[str, Any] = {}

    async def scored() -> None:
        history = await client.get(f"/v1/leads/{lead_id}/score/history", headers=READER)
        assert history.status_code == 200, history.text
        assert len(history.json()["scores"]) >= history_length
        response = await client.get(f"/v1/leads/{lead_id}/score", headers=READER)
        found.update(response.json())

    await eventually(scored, timeout_s=30)
    return found


@pytest.fixture
async def client(db: Database, settings_env: Infra) -> AsyncIterator[httpx.AsyncClient]:
    async with running_service(create_app(), db) as client:
        yield client


class TestScoreLead:
    async def test_ingested_lead_is_scored_and_published(
        self, client: httpx.AsyncClient, settings_env: Infra
    ) -> None:
        lead_id = uuid.uuid4()
        event = ingested(lead_id, job_title="VP Sales", company="Acme", company_size=800, country="US")
        await publish(settings_env, event)

        score = await score_of(client, lead_id)
        assert score["rubric_version"] == "2026.11-starter"
        assert score["grade"] == "A"
        assert score["fit_score"] == 70
        assert score["is_mql"] is False
        assert {r["rule_id"] for r in score["fired_rules"]} >= {"title-executive", "form-submission"}
        assert "title-executive" in score["explanation"]
        live = await client.get(f"/v1/leads/{lead_id}/score", params={"as_of": "now"}, headers=READER)
        assert live.status_code == 200
        assert live.json()["fit_score"] == score["fit_score"]
        assert live.json()["scored_at"] >= score["scored_at"]

        records = await read_topic(settings_env.kafka_bootstrap_servers, "lead.scored", until=keyed(lead_id))
        (scored,) = events_for(records, lead_id)
        assert isinstance(scored, LeadScored)
        assert scored.causation_id == event.event_id
        assert scored.correlation_id == event.correlation_id
        assert scored.payload.score == score["score"]

    async def test_demo_request_qualifies_at_once(
        self, client: httpx.AsyncClient, settings_env: Infra
    ) -> None:
        lead_id = uuid.uuid4()
        await publish(
            settings_env, ingested(lead_id, form_id="demo-request", first_name="Grace", company="Navy")
        )

        records = await read_topic(
            settings_env.kafka_bootstrap_servers, "lead.qualified", until=keyed(lead_id)
        )
        (qualified,) = events_for(records, lead_id)
        assert isinstance(qualified, LeadQualified)
        assert qualified.payload.reason == "hand_raiser"
        assert (qualified.payload.sla_tier, qualified.payload.sla_minutes) == ("D", 1440)
        assert qualified.payload.lead.first_name == "Grace"
        assert qualified.payload.lead.form_id == "demo-request"

        score = await score_of(client, lead_id)
        assert score["is_mql"] is True
        assert score["qualification_reason"] == "hand_raiser"

        assert score["qualified_at"] is not None

    async def test_routing_fields_ride_along_to_the_qualified_lead(
        self, client: httpx.AsyncClient, settings_env: Infra
    ) -> None:
        lead_id, account_id, owner_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await publish(
            settings_env,
            ingested(
                lead_id,
                form_id="demo-request",
                state="Bavaria",
                language="de",
                product_interest="analytics",
                account_id=account_id,
                account_owner_id=owner_id,
            ),
        )

        records = await read_topic(
            settings_env.kafka_bootstrap_servers, "lead.qualified", until=keyed(lead_id)
        )
        (qualified,) = events_for(records, lead_id)
        lead = qualified.payload.lead
        assert (lead.state, lead.language, lead.product_interest) == ("Bavaria", "de", "analytics")
        assert (lead.account_id, lead.account_owner_id) == (account_id, owner_id)

    async def test_redelivered_message_changes_nothing(
        self, client: httpx.AsyncClient, db: Database, settings_env: Infra
    ) -> None:
        lead_id = uuid.uuid4()
        demo = ingested(lead_id, form_id="demo-request")
        later = ingested(lead_id, form_id="contact-sales")
        # Same key, same partition: the sentinel is handled after both copies of `demo`.
        await publish(settings_env, demo, demo, later)

        await score_of(client, lead_id, history_length=2)
        async with db.transaction() as session:
            scores = await session.scalar(
                text("SELECT count(*) FROM scoring.score WHERE lead_id = :id"), {"id": lead_id}
            )
            qualified = await session.scalar(
                text("SELECT count(*) FROM scoring.outbox WHERE key = :id AND event_type = 'lead.qualified'"),
                {"id": str(lead_id)},
            )
            scored = await session.scalar(
                text("SELECT count(*) FROM scoring.outbox WHERE key = :id AND event_type = 'lead.scored'"),
                {"id": str(lead_id)},
            )
        assert (scores, scored, qualified) == (2, 2, 1)

    async def test_profile_keeps_the_latest_non_null_values(
        self, client: httpx.AsyncClient, settings_env: Infra
    ) -> None:
        lead_id = uuid.uuid4()
        first = ingested(lead_id, job_title="Engineer", company="Acme", company_size=800)
        second = ingested(lead_id, job_title="VP Engineering", form_id="pricing")
        await publish(settings_env, first, second)
        score = await score_of(client, lead_id, history_length=2)
        fired = {r["rule_id"] for r in score["fired_rules"]}
        assert {"title-executive", "company-known", "company-size-mid-market"} <= fired


class TestScoreEndpoints:
    async def test_unknown_lead_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"/v1/leads/{uuid.uuid4()}/score", headers=READER)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("lead-not-scored")
        history = await client.get(f"/v1/leads/{uuid.uuid4()}/score/history", headers=READER)
        assert history.status_code == 404

    async def test_sources_reps_and_strangers_may_not_read_scores(self, client: httpx.AsyncClient) -> None:
        path = f"/v1/leads/{uuid.uuid4()}/score"
        assert (await client.get(path)).status_code == 401
        # Reps see their own leads' scores in routing's queue, never every lead's here.
        for role in (Role.SOURCE, Role.REP):
            assert (await client.get(path, headers=bearer(role))).status_code == 403
        for role in (Role.ADMIN, Role.MANAGER, Role.MARKETING, Role.SALES):
            assert (await client.get(path, headers=bearer(role))).status_code == 404

    async def test_history_shows_how_the_score_moved(
        self, client: httpx.AsyncClient, settings_env: Infra
    ) -> None:
        lead_id = uuid.uuid4()
        await publish(settings_env, ingested(lead_id), ingested(lead_id, form_id="ebook-pipeline"))
        await score_of(client, lead_id, history_length=2)
        response = await client.get(f"/v1/leads/{lead_id}/score/history", headers=READER)
        first, second = response.json()["scores"]
        assert first["change"] == 0
        assert second["change"] == pytest.approx(second["score"] - first["score"])
        assert second["rules_added"] == ["content-download"]
        assert second["rules_removed"] == []


class TestRubricEndpoints:
    async def test_active_rubric_is_published(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/rubric", headers=READER)
        assert response.status_code == 200
        body = response.json()
        assert body["version"] == "2026.11-starter"
        assert body["qualification"]["hand_raiser_forms"] == ["demo-request", "contact-sales"]

    async def test_rubric_json_schema_is_published(self, client: httpx.AsyncClient) -> None:
        schema = (await client.get("/v1/rubric/schema", headers=READER)).json()
        assert "ProfileRegex" in schema["$defs"]

    async def test_valid_yaml_rubric_is_accepted(self, client: httpx.AsyncClient) -> None:
        from importlib.resources import files

        starter = (files("services.scoring.rubrics") / "starter.yaml").read_text()
        response = await client.post(
            "/v1/rubrics/validate",
            content=starter,
            headers={**READER, "content-type": "application/yaml"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["version"] == "2026.11-starter"

    async def test_invalid_rubric_gets_every_error_with_its_path(self, client: httpx.AsyncClient) -> None:
        document = (await client.get("/v1/rubric", headers=READER)).json()
        document["fit"][0]["when"][0]["field"] = "job_titel"
        document["engagement"][0]["activity"] = "carrier_pigeon"
        response = await client.post("/v1/rubrics/validate", json=document, headers=READER)
        assert response.status_code == 422
        problem = response.json()
        assert problem["type"].endswith("invalid-rubric")
        locs = {tuple(e["loc"]) for e in problem["errors"]}
        assert locs == {("fit", 0, "when", 0, "regex", "field"), ("engagement", 0, "activity")}

    async def test_draft_is_diffed_against_the_active_rubric(self, client: httpx.AsyncClient) -> None:
        document = (await client.get("/v1/rubric", headers=READER)).json()
        document["version"] = "2026.12-draft"
        document["fit"][0]["points"] = 40
        response = await client.post("/v1/rubrics/diff", json=document, headers=bearer(Role.SALES))
        assert response.status_code == 200, response.text
        diff = response.json()
        assert [(c["rule_id"], c["change"]) for c in diff["rules"]] == [("title-executive", "changed")]

    async def test_draft_is_backtested_over_known_leads(
        self, client: httpx.AsyncClient, settings_env: Infra
    ) -> None:
        lead_id = uuid.uuid4()
        await publish(settings_env, ingested(lead_id, form_id="contact-sales"))
        await score_of(client, lead_id)
        document = (await client.get("/v1/rubric", headers=READER)).json()
        document["qualification"]["hand_raiser_forms"] = ["demo-request"]
        response = await client.post("/v1/rubrics/backtest", json=document, headers=bearer(Role.MARKETING))
        assert response.status_code == 200, response.text
        report = response.json()
        assert lead_id in {uuid.UUID(i) for i in report["dropped_out_sample"]}

    async def test_reps_may_not_validate_rubrics(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/rubrics/validate", content="{}", headers=bearer(Role.REP))
        assert response.status_code == 403


async def test_score_is_computed_as_of_the_event_time(client: httpx.AsyncClient, settings_env: Infra) -> None:
    lead_id = uuid.uuid4()
    event = ingested(lead_id)
    await publish(settings_env, event)
    score = await score_of(client, lead_id)
    assert datetime.fromisoformat(score["scored_at"]) == event.occurred_at


class TestWhoReadsScores:
    async def test_a_rep_cannot_read_lead_scores_in_scoring(self, client: httpx.AsyncClient) -> None:
        as_rep = bearer(Role.REP, rep_id=uuid.uuid4())
        lead_id = uuid.uuid4()
        for path in (f"/v1/leads/{lead_id}/score", f"/v1/leads/{lead_id}/score/history"):
            response = await client.get(path, headers=as_rep)
            assert response.status_code == 403, (path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")

    async def test_a_rep_can_read_the_active_rubric(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/rubric", headers=bearer(Role.REP, rep_id=uuid.uuid4()))
        assert response.status_code == 200, response.text
