"""CORS on the public form post: a page on one of the form's allowed origins may send the JSON
post and read its answer; any other origin gets no CORS header and its browser reads nothing.
And the embed snippet a marketer pastes, served by `GET /v1/forms/{id}/embed`."""

from __future__ import annotations

from services.ingest.main import create_app
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.ingest import MARKETING, configure_form, ingest_client

SITE = "https://www.example.com"
OTHER = "https://evil.example.net"
PREFLIGHT = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}


class TestPreflight:
    async def test_an_allowed_origin_is_answered_with_what_it_may_send(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(http, "cors-demo", allowed_origins=[SITE])
            response = await http.options(
                "/v1/forms/cors-demo/submissions", headers={"origin": SITE, **PREFLIGHT}
            )
        assert response.status_code == 204, response.text
        assert response.headers["access-control-allow-origin"] == SITE
        assert response.headers["access-control-allow-methods"] == "POST"
        allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
        assert {"content-type", "idempotency-key"} <= allowed
        assert response.headers["vary"] == "Origin"

    async def test_another_origin_gets_no_cors_header(self, db: Database, settings_env: Infra) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(http, "cors-demo", allowed_origins=[SITE])
            response = await http.options(
                "/v1/forms/cors-demo/submissions", headers={"origin": OTHER, **PREFLIGHT}
            )
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("origin-not-allowed")
        assert "access-control-allow-origin" not in response.headers
        assert response.headers["vary"] == "Origin"

    async def test_a_form_without_origins_admits_any_page(self, db: Database, settings_env: Infra) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(http, "open-form")
            response = await http.options(
                "/v1/forms/open-form/submissions", headers={"origin": OTHER, **PREFLIGHT}
            )
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == OTHER

    async def test_an_unknown_form_is_not_found(self, db: Database, settings_env: Infra) -> None:
        async with ingest_client(create_app()) as http:
            response = await http.options(
                "/v1/forms/no-such/submissions", headers={"origin": SITE, **PREFLIGHT}
            )
        assert response.status_code == 404
        assert response.json()["type"].endswith("form-not-found")
        assert "access-control-allow-origin" not in response.headers


class TestPost:
    async def test_the_answer_names_the_allowed_origin_only(self, db: Database, settings_env: Infra) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(http, "cors-demo", allowed_origins=[SITE])
            allowed = await http.post(
                "/v1/forms/cors-demo/submissions", json={"email": "ada@example.com"}, headers={"origin": SITE}
            )
            other = await http.post(
                "/v1/forms/cors-demo/submissions",
                json={"email": "eve@example.com"},
                headers={"origin": OTHER},
            )
        assert allowed.status_code == 202, allowed.text
        assert allowed.headers["access-control-allow-origin"] == SITE
        assert allowed.headers["vary"] == "Origin"
        assert "lead_id" in allowed.json()
        assert other.status_code == 403
        assert "access-control-allow-origin" not in other.headers

    async def test_a_server_post_and_other_routes_are_untouched(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(http, "cors-demo")
            server = await http.post("/v1/forms/cors-demo/submissions", json={"email": "ada@example.com"})
            forms = await http.get("/v1/forms", headers={**MARKETING, "origin": SITE})
            no_origin = await http.options("/v1/forms/cors-demo/submissions")
        assert server.status_code == 202
        assert "access-control-allow-origin" not in server.headers
        assert "access-control-allow-origin" not in forms.headers
        assert no_origin.status_code == 405


class TestEmbedSnippet:
    async def test_the_snippet_posts_to_this_form_and_names_its_origins(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app()) as http:
            await configure_form(
                http, "cors-demo", allowed_origins=[SITE], field_map={"work_email": "email", "org": "company"}
            )
            snippet = await http.get("/v1/forms/cors-demo/embed", headers=MARKETING)
            as_rep = await http.get("/v1/forms/cors-demo/embed", headers=bearer(Role.REP))
            missing = await http.get("/v1/forms/nope/embed", headers=MARKETING)
        assert snippet.status_code == 200, snippet.text
        html = snippet.text
        assert 'action="http://testserver/v1/forms/cors-demo/submissions"' in html
        assert '<input name="work_email" type="email" required>' in html
        assert '<input name="org" type="text">' in html
        assert 'name="_gotcha"' in html
        assert SITE in html
        assert "fetch(form.action" in html
        assert as_rep.status_code == 403
        assert missing.status_code == 404
