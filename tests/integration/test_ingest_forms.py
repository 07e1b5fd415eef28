"""Ingest's form endpoint against the real database and broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.ingest.main import create_app
from shared.auth import Role
from shared.contracts import LeadIngested, decode_event
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.apps import running_app as _running_app
from tests.support.events import read_topic
from tests.support.ingest import opened

# The migration seeds these; every test starts from truncated tables, so they are configured again.
SEEDED = {"demo-request": True, "contact-sales": True, "newsletter": False, "f": False}


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _running_app(app) as client:
        for form_id, hand_raiser in SEEDED.items():
            response = await client.post(
                "/v1/forms",
                json={"id": form_id, "name": form_id, "is_hand_raiser": hand_raiser},
                headers=bearer(Role.MARKETING),
            )
            assert response.status_code == 201, response.text
        yield client


class TestSubmitForm:
    async def test_json_submission_is_accepted_and_published(self, db: Database, settings_env: Infra) -> None:
        async with running_app(create_app()) as client:
            response = await client.post(
                "/v1/forms/newsletter/submissions",
                json={"email": "Ada@Example.com", "company": "Analytical", "utm_source": "google"},
            )
            assert response.status_code == 202, response.text
            accepted = response.json()

        records = await read_topic(
            settings_env.kafka_bootstrap_servers,
            "lead.ingested",
            until=lambda rs: any(r.key == accepted["lead_id"].encode() for r in rs),
        )
        [event] = await opened(
            db, [decode_event(r.value) for r in records if r.key == accepted["lead_id"].encode()]
        )
        assert isinstance(event, LeadIngested)
        assert str(event.event_id) == accepted["event_id"]
        assert event.payload.email == "ada@example.com"
        assert event.payload.utm == {"source": "google"}

    async def test_form_encoded_submission_is_accepted(self, db: Database, settings_env: Infra) -> None:
        async with running_app(create_app()) as client:
            response = await client.post(
                "/v1/forms/demo-request/submissions",
                content="email=grace%40navy.mil&first_name=Grace&company_size=5000&job_title=",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
        assert response.status_code == 202, response.text

    async def test_same_idempotency_key_gives_same_answer_and_one_event(
        self, db: Database, settings_env: Infra
    ) -> None:
        key = str(uuid.uuid4())
        body = {"email": f"{key}@example.com"}
        async with running_app(create_app()) as client:
            first = await client.post("/v1/forms/f/submissions", json=body, headers={"Idempotency-Key": key})
            second = await client.post("/v1/forms/f/submissions", json=body, headers={"Idempotency-Key": key})
            other = await client.post(
                "/v1/forms/f/submissions", json={"email": "x@example.com"}, headers={"Idempotency-Key": key}
            )
        assert first.status_code == second.status_code == 202
        assert first.json() == second.json()
        assert other.status_code == 422
        assert other.json()["type"].endswith("idempotency-key-reused")
        async with db.transaction() as session:
            from sqlalchemy import text

            count = await session.scalar(
                text("SELECT count(*) FROM ingest.outbox WHERE topic = 'lead.ingested'")
            )
        assert count == 1

    async def test_malformed_body_gets_field_errors_and_publishes_nothing(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with running_app(create_app()) as client:
            response = await client.post(
                "/v1/forms/f/submissions", json={"email": "not-an-email", "company_size": "many"}
            )
        assert response.status_code == 422
        problem = response.json()
        assert response.headers["content-type"].startswith("application/problem+json")
        assert {tuple(e["loc"]) for e in problem["errors"]} == {("body", "email"), ("body", "company_size")}
        async with db.transaction() as session:
            from sqlalchemy import text

            assert await session.scalar(text("SELECT count(*) FROM ingest.outbox")) == 0

    async def test_invalid_json_is_a_problem_not_a_crash(self, db: Database, settings_env: Infra) -> None:
        async with running_app(create_app()) as client:
            response = await client.post(
                "/v1/forms/f/submissions", content=b"{nope", headers={"content-type": "application/json"}
            )
        assert response.status_code == 422
        assert json.loads(response.text)["status"] == 422


class TestUnstorableText:
    async def test_a_nul_character_is_refused_and_saves_nothing(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with running_app(create_app()) as client:
            form = await client.post(
                "/v1/forms", json={"id": "nul", "name": "bad\u0000name"}, headers=bearer(Role.MARKETING)
            )
            assert form.status_code == 422, form.text
            assert form.json()["type"].endswith("/unstorable-text")
            assert (await client.get("/v1/forms/nul", headers=bearer(Role.MARKETING))).status_code == 404

    async def test_one_nul_submission_does_not_sink_the_others_written_with_it(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with running_app(create_app()) as client:

            async def submit(first_name: str) -> httpx.Response:
                body = {"email": f"{uuid.uuid4().hex}@example.com", "first_name": first_name}
                return await client.post("/v1/forms/newsletter/submissions", json=body)

            # Sent together, so the writer commits them in one batch until the NUL sinks it.
            answers = await asyncio.gather(submit("Ada"), submit("Nul\u0000"), submit("Grace"))
        assert [a.status_code for a in answers] == [202, 422, 202], [a.text for a in answers]
        assert answers[1].headers["content-type"].startswith("application/problem+json")
