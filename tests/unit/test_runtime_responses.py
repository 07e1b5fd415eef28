"""Every JSON answer a service gives ends with a newline, so a terminal's next prompt starts on a
line of its own; the body still parses as the same JSON."""

from __future__ import annotations

import json

import httpx
import pytest

from shared.auth import Role
from tests.conftest import bearer
from tests.support.apps import offline_client

SERVICES = ("ingest", "scoring", "routing", "feedback")


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
    async with offline_client(service) as client:
        ok = await client.get("/healthz")
        assert ok.status_code == 200
        assert_json_line(ok)
        missing = await client.get("/no-such-page")
        assert missing.status_code == 404
        assert_json_line(missing)
        assert_json_line(await client.get("/openapi.json"))


async def test_a_routes_typed_answer_and_an_auth_problem_end_with_a_newline(offline_settings: None) -> None:
    async with offline_client("scoring") as client:
        schema = await client.get("/v1/rubric/schema", headers=bearer(Role.MARKETING))
        assert schema.status_code == 200
        assert_json_line(schema)
        unauthenticated = await client.get("/v1/rubric/schema")
        assert unauthenticated.status_code == 401
        assert_json_line(unauthenticated)
