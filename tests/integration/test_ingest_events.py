"""Activity batches, source API keys, and anonymous activity stitched to the lead a form reveals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from services.ingest.main import create_app
from shared.auth import Role
from shared.contracts import ActivityRecorded
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.ingest import ADMIN, configure_form, ingest_client, staged


async def new_source(http: Any, source_id: str = "website") -> str:
    response = await http.post("/v1/sources", json={"id": source_id, "name": "Marketing site"}, headers=ADMIN)
    assert response.status_code == 201, response.text
    key: str = response.json()["api_key"]
    return key


class TestSources:
    async def test_keys_are_shown_once_and_stored_hashed(self, db: Database, settings_env: Infra) -> None:
        async with ingest_client(create_app()) as http:
            key = await new_source(http)
            again = await http.post("/v1/sources", json={"id": "website", "name": "x"}, headers=ADMIN)
            listed = await http.get("/v1/sources", headers=ADMIN)
            as_marketing = await http.get("/v1/sources", headers=bearer(Role.MARKETING))
        assert again.status_code == 409
        assert "api_key" not in listed.json()[0]
        assert key.startswith(listed.json()[0]["key_prefix"])
        assert as_marketing.status_code == 403
        async with db.transaction() as session:
            stored = await session.scalar(text("SELECT key_hash FROM ingest.source"))
        assert key not in stored

    async def test_revoked_or_missing_credentials_are_401(self, db: Database, settings_env: Infra) -> None:
        batch = {"events": [{"type": "page_view", "visitor_id": "v1"}]}
        async with ingest_client(create_app()) as http:
            key = await new_source(http)
            ok = await http.post("/v1/events", json=batch, headers={"X-Api-Key": key})
            await http.delete("/v1/sources/website", headers=ADMIN)
            revoked = await http.post("/v1/events", json=batch, headers={"X-Api-Key": key})
            anonymous = await http.post("/v1/events", json=batch)
            token = await http.post("/v1/events", json=batch, headers=bearer(Role.SOURCE, source_id="crm"))
            rep = await http.post("/v1/events", json=batch, headers=bearer(Role.REP))
        assert ok.status_code == 200
        assert revoked.status_code == anonymous.status_code == 401
        assert token.status_code == 200
        assert rep.status_code == 403


class TestActivityBatch:
    async def test_each_item_is_accepted_or_rejected_on_its_own(
        self, db: Database, settings_env: Infra
    ) -> None:
        batch = {
            "events": [
                {
                    "type": "page_view",
                    "email": "Ada@Analytical.example",
                    "url": "https://x.example/pricing?utm_source=g",
                },
                {"type": "teleported", "email": "ada@analytical.example"},
                {"type": "email_click"},
                {"type": "webinar_attended", "visitor_id": "anon-1", "occurred_at": "2026-11-20T10:00:00Z"},
            ]
        }
        async with ingest_client(create_app()) as http:
            key = await new_source(http)
            response = await http.post("/v1/events", json=batch, headers={"X-Api-Key": key})
        assert response.status_code == 200, response.text
        result = response.json()
        assert (result["accepted"], result["rejected"]) == (2, 2)
        statuses = [(r["index"], r["status"]) for r in result["results"]]
        assert statuses == [(0, "accepted"), (1, "rejected"), (2, "rejected"), (3, "accepted")]
        assert "type" in result["results"][1]["reason"]
        assert "visitor_id" in result["results"][2]["reason"]
        assert result["results"][3]["event_id"] is None
        [event] = await staged(db)
        assert isinstance(event, ActivityRecorded)
        assert event.payload.email == "ada@analytical.example"
        assert event.payload.properties["page_path"] == "/pricing"
        assert event.payload.properties["utm.source"] == "g"
        assert event.payload.source == "website"

    async def test_more_than_a_thousand_items_is_refused_whole(
        self, db: Database, settings_env: Infra
    ) -> None:
        batch = {"events": [{"type": "page_view", "visitor_id": "v"}] * 1001}
        async with ingest_client(create_app()) as http:
            response = await http.post("/v1/events", json=batch, headers=bearer(Role.SOURCE, source_id="s"))
        assert response.status_code == 422


class TestStitching:
    async def test_a_form_revealing_the_visitor_publishes_their_anonymous_past(
        self, db: Database, settings_env: Infra
    ) -> None:
        visitor = {"visitor_id": "cookie-42"}
        async with ingest_client(create_app()) as http:
            key = await new_source(http)
            await configure_form(http, "trial")
            anonymous = await http.post(
                "/v1/events",
                json={
                    "events": [
                        {"type": "pricing_page_view", **visitor},
                        {"type": "content_download", **visitor},
                    ]
                },
                headers={"X-Api-Key": key},
            )
            assert all(r["event_id"] is None for r in anonymous.json()["results"])
            assert await staged(db) == []
            submitted = await http.post(
                "/v1/forms/trial/submissions", data={"email": "grace@navy.example", "visitor_id": "cookie-42"}
            )
            later = await http.post(
                "/v1/events", json={"events": [{"type": "page_view", **visitor}]}, headers={"X-Api-Key": key}
            )
        lead_id = submitted.json()["lead_id"]
        stitched = await staged(db, "activity.recorded")
        assert [e.payload.activity_type for e in stitched] == ["page_view", "content_download", "page_view"]  # type: ignore[union-attr]
        assert all(str(e.lead_id) == lead_id for e in stitched)
        assert [e.payload.stitched for e in stitched] == [True, True, False]  # type: ignore[union-attr]
        assert later.json()["results"][0]["lead_id"] == lead_id
        async with db.transaction() as session:
            decision = await session.scalar(
                text("SELECT decision FROM ingest.visitor WHERE id = 'cookie-42'")
            )
        assert decision == "form_submission"

    async def test_an_item_naming_both_email_and_visitor_stitches_earlier_items_of_the_batch(
        self, db: Database, settings_env: Infra
    ) -> None:
        batch = {
            "events": [
                {"type": "page_view", "visitor_id": "v-9"},
                {"type": "email_click", "visitor_id": "v-9", "email": "ada@analytical.example"},
            ]
        }
        async with ingest_client(create_app()) as http:
            response = await http.post("/v1/events", json=batch, headers=bearer(Role.SOURCE, source_id="esp"))
        results = response.json()["results"]
        assert results[0]["lead_id"] == results[1]["lead_id"] is not None
        assert len(await staged(db, "activity.recorded")) == 2


async def test_two_spellings_of_one_inbox_in_a_batch_are_one_lead(db: Database, settings_env: Infra) -> None:
    batch = {
        "events": [
            {"type": "email_open", "email": "ada.lovelace@gmail.com"},
            {"type": "email_click", "email": "adalovelace+news@gmail.com"},
        ]
    }
    async with ingest_client(create_app()) as http:
        response = await http.post("/v1/events", json=batch, headers=bearer(Role.SOURCE, source_id="esp"))
    first, second = response.json()["results"]
    assert first["lead_id"] == second["lead_id"] is not None
