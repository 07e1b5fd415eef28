"""Configured forms and the protections in front of them, against the real database."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from shared.auth import Role
from shared.contracts import LeadIngested
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.ingest import configure_form, ingest_client, staged


def honeypot_count(form_id: str) -> float:
    value = REGISTRY.get_sample_value("baton_ingest_honeypot_tripped_total", {"form_id": form_id})
    return value or 0.0


class TestFormConfiguration:
    async def test_unknown_form_is_404_and_publishes_nothing(self, db: Database, settings_env: Infra) -> None:
        async with ingest_client(create_app()) as http:
            response = await http.post("/v1/forms/nope/submissions", json={"email": "a@example.com"})
        assert response.status_code == 404
        assert response.json()["type"].endswith("form-not-found")
        assert await staged(db) == []

    async def test_forms_are_configured_and_listed_by_marketing_only(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app()) as http:
            created = await configure_form(http, "webinar", is_hand_raiser=False, field_map={"mail": "email"})
            listed = await http.get("/v1/forms", headers=bearer(Role.MARKETING))
            one = await http.get("/v1/forms/webinar", headers=bearer(Role.ADMIN))
            as_rep = await http.post("/v1/forms", json={"id": "x", "name": "x"}, headers=bearer(Role.REP))
            anonymous = await http.get("/v1/forms")
        assert created["field_map"] == {"mail": "email"}
        assert [f["id"] for f in listed.json()] == ["webinar"]
        assert one.json()["honeypot_field"] == "_gotcha"
        assert as_rep.status_code == 403
        assert anonymous.status_code == 401

    async def test_field_map_hidden_utm_fields_and_hand_raiser_shape_the_event(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(
                http,
                "talk-to-us",
                field_map={"Email Address": "email", "Your name": "full_name", "Org": "company"},
                utm_fields={"hidden_src": "source", "hidden_cmp": "campaign"},
                is_hand_raiser=True,
            )
            response = await http.post(
                "/v1/forms/talk-to-us/submissions",
                data={
                    "Email Address": "Ada.Lovelace@Analytical.example",
                    "Your name": "Ada Lovelace",
                    "Org": "Analytical Engines",
                    "hidden_src": "linkedin",
                    "hidden_cmp": "q4-abm",
                    "_gotcha": "",
                },
            )
        assert response.status_code == 202, response.text
        [event] = await staged(db)
        assert isinstance(event, LeadIngested)
        p = event.payload
        assert (p.email, p.first_name, p.last_name, p.company) == (
            "ada.lovelace@analytical.example",
            "Ada",
            "Lovelace",
            "Analytical Engines",
        )
        assert p.utm == {"source": "linkedin", "campaign": "q4-abm"}
        assert p.is_hand_raiser

    async def test_a_reconfigured_form_applies_at_once(self, db: Database, settings_env: Infra) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(http, "evolving")
            first = await http.post("/v1/forms/evolving/submissions", json={"email": "a@example.com"})
            await configure_form(http, "evolving", is_hand_raiser=True, field_map={"mail": "email"})
            second = await http.post("/v1/forms/evolving/submissions", json={"mail": "b@example.com"})
        assert first.status_code == second.status_code == 202, second.text
        flags = [e.payload.is_hand_raiser for e in await staged(db) if isinstance(e, LeadIngested)]
        assert flags == [False, True]


class TestBrowserProtection:
    async def test_filled_honeypot_is_answered_202_and_changes_nothing(
        self, db: Database, settings_env: Infra
    ) -> None:
        before = honeypot_count("trap")
        async with ingest_client(create_app()) as http:
            await configure_form(http, "trap")
            response = await http.post(
                "/v1/forms/trap/submissions", data={"email": "bot@spam.example", "_gotcha": "http://x"}
            )
        assert response.status_code == 202
        assert set(response.json()) == {"lead_id", "event_id"}
        assert await staged(db) == []
        assert honeypot_count("trap") == before + 1

    async def test_posts_from_other_origins_are_forbidden(self, db: Database, settings_env: Infra) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(http, "site", allowed_origins=["https://www.example.com"])
            body: dict[str, Any] = {"email": "ada@example.com"}
            evil = await http.post(
                "/v1/forms/site/submissions", json=body, headers={"Origin": "https://evil.example"}
            )
            none = await http.post("/v1/forms/site/submissions", json=body)
            good = await http.post(
                "/v1/forms/site/submissions", json=body, headers={"Origin": "https://www.example.com"}
            )
        assert evil.status_code == none.status_code == 403
        assert evil.headers["content-type"].startswith("application/problem+json")
        assert good.status_code == 202
        assert len(await staged(db)) == 1

    async def test_a_client_posting_too_fast_gets_429_with_retry_after(
        self, db: Database, settings_env: Infra
    ) -> None:
        settings = IngestSettings(form_rate_limit_per_minute=6, form_rate_limit_burst=2)
        async with ingest_client(create_app(settings)) as http:
            await configure_form(http, "fast")
            answers = [
                await http.post("/v1/forms/fast/submissions", json={"email": f"a{i}@example.com"})
                for i in range(3)
            ]
        assert [a.status_code for a in answers] == [202, 202, 429]
        assert int(answers[2].headers["retry-after"]) >= 1
        assert answers[2].json()["type"].endswith("rate-limited")
        assert len(await staged(db)) == 2

    async def test_loopback_clients_are_not_rate_limited(self, db: Database, settings_env: Infra) -> None:
        settings = IngestSettings(form_rate_limit_per_minute=1, form_rate_limit_burst=1)
        async with ingest_client(create_app(settings), client=("127.0.0.1", 1234)) as http:
            await configure_form(http, "local")
            answers = [
                await http.post("/v1/forms/local/submissions", json={"email": f"a{i}@example.com"})
                for i in range(3)
            ]
        assert {a.status_code for a in answers} == {202}

    async def test_oversized_body_is_413(self, db: Database, settings_env: Infra) -> None:
        settings = IngestSettings(max_body_bytes=1000)
        async with ingest_client(create_app(settings)) as http:
            await configure_form(http, "big")
            response = await http.post(
                "/v1/forms/big/submissions", json={"email": "a@example.com", "essay": "x" * 2000}
            )
        assert response.status_code == 413
        assert await staged(db) == []


class TestIdentity:
    async def test_gmail_spellings_of_one_inbox_are_one_lead_and_the_typed_address_is_kept(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(http, "nl")
            first = await http.post("/v1/forms/nl/submissions", json={"email": "ada.lovelace@gmail.com"})
            second = await http.post(
                "/v1/forms/nl/submissions", json={"email": "AdaLovelace+promo@googlemail.com"}
            )
        assert first.json()["lead_id"] == second.json()["lead_id"]
        emails = [e.payload.email for e in await staged(db, "lead.ingested")]  # type: ignore[union-attr]
        assert emails == ["ada.lovelace@gmail.com", "adalovelace+promo@googlemail.com"]
