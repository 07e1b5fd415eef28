"""Every write route of the four services refuses a caller without valid credentials.

The routes come from each running app's own OpenAPI document, so a route added later is held
to the rule without touching this file. Every write route (POST, PUT, PATCH, DELETE) outside
`OPEN_WRITES`, and every read route that declares bearer security, must answer 401 with a
problem document to: no credentials, a token signed with another secret, an expired token, an
unsigned (`alg: none`) token, a token for another audience, and a string that is no JWT at all.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from services.feedback.main import create_app as feedback_app
from services.ingest.main import create_app as ingest_app
from services.routing.main import create_app as routing_app
from services.scoring.main import create_app as scoring_app
from shared.auth import DEV_ISSUER, ROLE_CLAIM, Role, issue_token
from tests.conftest import TEST_JWT_SECRET, Infra
from tests.support.apps import running_app

APPS: dict[str, Callable[[], FastAPI]] = {
    "ingest": ingest_app,
    "scoring": scoring_app,
    "routing": routing_app,
    "feedback": feedback_app,
}
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})

# Write routes open by design, each with what guards it instead.
OPEN_WRITES: dict[str, str] = {
    r"^/v1/forms/\{form_id\}/submissions$": "browser form posts: Origin allow-list, honeypot, rate limits",
    r"^/v1/webhooks/": "each provider's own signature or key (tests/hostile/test_webhook_security.py)",
}


def claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    base = {
        "iss": DEV_ISSUER,
        "aud": "baton",
        "sub": "intruder",
        ROLE_CLAIM: Role.ADMIN.value,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
    }
    return {**base, **overrides}


def forged_credentials() -> dict[str, dict[str, str]]:
    """Headers a caller without a valid token might send, by what is wrong with them."""

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    expired = datetime.now(UTC) - timedelta(minutes=5)
    return {
        "none": {},
        "other secret": bearer(issue_token("forged-" + "k" * 40, role=Role.ADMIN, subject="intruder")),
        "expired": bearer(
            jwt.encode(claims(exp=int(expired.timestamp())), TEST_JWT_SECRET, algorithm="HS256")
        ),
        "alg none": bearer(jwt.encode(claims(), "", algorithm="none")),
        "other audience": bearer(
            issue_token(TEST_JWT_SECRET, role=Role.ADMIN, subject="intruder", audience="not-baton")
        ),
        "not a jwt": bearer("definitely-not-a-token"),
        "basic scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
    }


def example_value(schema: dict[str, Any]) -> str:
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("format") == "date":
        return "2026-12-25"
    return "probe"


def guarded_operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, concrete url) for every write route not open by design and every secured read."""
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in WRITE_METHODS and not operation.get("security"):
                continue
            if method in WRITE_METHODS and any(re.search(pattern, path) for pattern in OPEN_WRITES):
                continue
            url = path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    url = url.replace(f"{{{parameter['name']}}}", example_value(parameter.get("schema", {})))
            found.append((method, url))
    return found


@pytest.mark.integration
@pytest.mark.parametrize("service", sorted(APPS))
async def test_every_guarded_route_answers_401_to_missing_or_forged_credentials(
    service: str, settings_env: Infra
) -> None:
    failures = []
    async with running_app(APPS[service](), consume=False) as client:
        operations = guarded_operations((await client.get("/openapi.json")).json())
        writes = [op for op in operations if op[0] in WRITE_METHODS]
        assert writes, f"{service}: no write route found to check"
        for method, url in operations:
            for label, headers in forged_credentials().items():
                response = await client.request(method, url, json={}, headers=headers)
                if not is_401_problem(response):
                    failures.append(
                        f"{method.upper()} {url} with {label}: {response.status_code} {response.text}"
                    )
    assert not failures, "\n".join(failures)


def is_401_problem(response: httpx.Response) -> bool:
    return response.status_code == 401 and response.headers.get("content-type", "").startswith(
        "application/problem+json"
    )


@pytest.mark.integration
async def test_a_forged_api_key_cannot_post_activity(settings_env: Infra) -> None:
    async with running_app(ingest_app(), consume=False) as client:
        response = await client.post(
            "/v1/events", json={"events": []}, headers={"X-Api-Key": "bk_" + "f" * 40}
        )
    assert is_401_problem(response), response.text
