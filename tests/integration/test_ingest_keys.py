"""Source API keys: scoped to a source or to forms, revocable, each with its own rate limit."""

from __future__ import annotations

from typing import Any

import httpx

from services.ingest.main import create_app
from shared.contracts import LeadIngested
from shared.db import Database
from tests.conftest import Infra
from tests.support.ingest import ADMIN, configure_form, ingest_client, staged

BATCH = {"events": [{"type": "page_view", "visitor_id": "v1"}]}


async def new_key(http: httpx.AsyncClient, source_id: str, **scope: Any) -> str:
    response = await http.post(
        "/v1/sources", json={"id": source_id, "name": source_id, **scope}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["api_key"]
    return key


def fill(email: str) -> dict[str, str]:
    return {"email": email, "first_name": "Ada"}


class TestFormScopedKeys:
    async def test_a_form_key_submits_its_forms_from_a_server_without_an_origin(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(http, "demo", allowed_origins=["https://www.example.com"])
            key = await new_key(http, "crm-sync", form_ids=["demo"])
            keyed = await http.post(
                "/v1/forms/demo/submissions", json=fill("ada@analytical.example"), headers={"X-Api-Key": key}
            )
            unkeyed = await http.post("/v1/forms/demo/submissions", json=fill("grace@navy.example"))
            listed = await http.get("/v1/sources", headers=ADMIN)
        assert keyed.status_code == 202, keyed.text
        assert unkeyed.status_code == 403
        assert listed.json()[0]["form_ids"] == ["demo"]
        [event] = await staged(db)
        assert isinstance(event, LeadIngested)
        assert event.payload.email == "ada@analytical.example"

    async def test_a_form_key_may_not_submit_other_forms_nor_post_activity(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(http, "demo")
            await configure_form(http, "newsletter")
            key = await new_key(http, "crm-sync", form_ids=["demo"])
            other_form = await http.post(
                "/v1/forms/newsletter/submissions",
                json=fill("ada@analytical.example"),
                headers={"X-Api-Key": key},
            )
            activity = await http.post("/v1/events", json=BATCH, headers={"X-Api-Key": key})
        assert other_form.status_code == activity.status_code == 403
        assert other_form.headers["content-type"] == "application/problem+json"
        assert await staged(db) == []

    async def test_a_source_key_may_not_submit_forms(self, db: Database, settings_env: Infra) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(http, "demo")
            key = await new_key(http, "website")
            response = await http.post(
                "/v1/forms/demo/submissions", json=fill("ada@analytical.example"), headers={"X-Api-Key": key}
            )
            bogus = await http.post(
                "/v1/forms/demo/submissions",
                json=fill("ada@analytical.example"),
                headers={"X-Api-Key": "bk_nope"},
            )
        assert response.status_code == 403
        assert bogus.status_code == 401
        assert await staged(db) == []

    async def test_a_revoked_form_key_is_refused_at_once(self, db: Database, settings_env: Infra) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(http, "demo")
            key = await new_key(http, "crm-sync", form_ids=["demo"])
            before = await http.post(
                "/v1/forms/demo/submissions", json=fill("ada@analytical.example"), headers={"X-Api-Key": key}
            )
            await http.delete("/v1/sources/crm-sync", headers=ADMIN)
            after = await http.post(
                "/v1/forms/demo/submissions", json=fill("grace@navy.example"), headers={"X-Api-Key": key}
            )
        assert before.status_code == 202
        assert after.status_code == 401
        assert len(await staged(db)) == 1


class TestKeyRateLimits:
    async def test_a_key_over_its_own_limit_gets_429_with_retry_after(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app()) as http:
            slow = await new_key(http, "slow", rate_limit_per_minute=2)
            fast = await new_key(http, "fast")
            answers = [
                (await http.post("/v1/events", json=BATCH, headers={"X-Api-Key": slow})) for _ in range(3)
            ]
            other = await http.post("/v1/events", json=BATCH, headers={"X-Api-Key": fast})
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[2].headers["content-type"] == "application/problem+json"
        assert 1 <= int(answers[2].headers["Retry-After"]) <= 30
        assert other.status_code == 200

    async def test_a_form_key_is_limited_per_key_not_per_address(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(http, "demo")
            key = await new_key(http, "crm-sync", form_ids=["demo"], rate_limit_per_minute=1)
            first = await http.post(
                "/v1/forms/demo/submissions", json=fill("ada@analytical.example"), headers={"X-Api-Key": key}
            )
            second = await http.post(
                "/v1/forms/demo/submissions", json=fill("grace@navy.example"), headers={"X-Api-Key": key}
            )
            browser = await http.post("/v1/forms/demo/submissions", json=fill("alan@bletchley.example"))
        assert (first.status_code, second.status_code, browser.status_code) == (202, 429, 202)
        assert int(second.headers["Retry-After"]) >= 1
        assert len(await staged(db)) == 2

    async def test_scopes_and_limits_are_validated(self, db: Database, settings_env: Infra) -> None:
        async with ingest_client(create_app()) as http:
            empty = await http.post(
                "/v1/sources", json={"id": "a", "name": "a", "form_ids": []}, headers=ADMIN
            )
            zero = await http.post(
                "/v1/sources", json={"id": "b", "name": "b", "rate_limit_per_minute": 0}, headers=ADMIN
            )
        assert empty.status_code == zero.status_code == 422
