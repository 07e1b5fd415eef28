"""The form route reads its path and headers itself; a bad one is refused with the field errors
FastAPI gives for declared parameters, before anything is read or stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.ingest.main import create_app
from services.ingest.settings import IngestSettings


async def post(path: str, headers: dict[str, str]) -> httpx.Response:
    settings = IngestSettings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        kafka_bootstrap_servers="127.0.0.1:1",
        jwt_secret="unit-test-secret-" + "y" * 32,
        log_format="text",
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        return await client.post(path, json={"email": "ada@example.com"}, headers=headers)


PATTERN = {"loc": ["path", "form_id"], "type": "string_pattern_mismatch"}
LONG_KEY = {"loc": ["header", "idempotency-key"], "type": "string_too_long"}
LONG_API_KEY = {"loc": ["header", "x-api-key"], "type": "string_too_long"}


@pytest.mark.parametrize(
    ("path", "headers", "errors"),
    [
        ("/v1/forms/bad%20id/submissions", {}, [PATTERN]),
        ("/v1/forms/trailing%0A/submissions", {}, [PATTERN]),
        (
            "/v1/forms/" + "a" * 201 + "/submissions",
            {},
            [{"loc": ["path", "form_id"], "type": "string_too_long"}],
        ),
        ("/v1/forms/ok/submissions", {"Idempotency-Key": "k" * 256}, [LONG_KEY]),
        (
            "/v1/forms/bad$/submissions",
            {"Idempotency-Key": "k" * 256, "X-Api-Key": "a" * 201},
            [LONG_API_KEY, PATTERN, LONG_KEY],
        ),
    ],
)
async def test_bad_parameters_are_field_errors(path: str, headers: dict[str, str], errors: list[Any]) -> None:
    response = await post(path, headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    found = [{"loc": e["loc"], "type": e["type"]} for e in response.json()["errors"]]
    assert found == errors
