"""Every JSON answer a service gives ends with a newline, so a terminal's next prompt starts on a
line of its own; the body still parses as the same JSON."""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from shared.auth import Role
from tests.conftest import TEST_JWT_SECRET, bearer

SERVICES = ("ingest", "scoring", "routing", "feedback")


@pytest.fixture
def offline_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings that point at nothing: these answers need no database and no broker."""
    monkeypatch.setenv("BATON_DATABASE_URL", "postgresql+asyncpg://unit@127.0.0.1:1/unit")
    monkeypatch.setenv("BATON_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("BATON_JWT_SECRET", TEST_JWT_SECRET)


async def client_of(service: str) -> AsyncIterator[httpx.AsyncClient]:
    app = importlib.import_module(f"services.{service}.main").create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def assert_json_line(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith(("application/json", "application/problem+json"))
    assert response.content.endswith(b"\n"), response.content[-40:]
    assert not response.content.endswith(b"\n\n")
    assert int(response.headers["content-length"]) == len(response.content)
    json.loads(response.content)


@pytest.mark.parametrize("service", SERVICES)
async def test_answers_errors_and_the_openapi_document_end_with_a_newline(
    service: str, offline_settings: None
) -> None:
    async for client in client_of(service):
        ok = await client.get("/healthz")
        assert ok.status_code == 200
        assert_json_line(ok)
        missing = await client.get("/no-such-page")
        assert missing.status_code == 404
        assert_json_line(missing)
        assert_json_line(await client.get("/openapi.json"))


async def test_a_routes_typed_answer_and_an_auth_problem_end_with_a_newline(offline_settings: None) -> None:
    async for client in client_of("scoring"):
        schema = await client.get("/v1/rubric/schema", headers=bearer(Role.MARKETING))
        assert schema.status_code == 200
        assert_json_line(schema)
        unauthenticated = await client.get("/v1/rubric/schema")
        assert unauthenticated.status_code == 401
        assert_json_line(unauthenticated)
