"""SQL-injection strings and oversized values in query parameters and path ids.

Every GET operation of the four OpenAPI documents, called as an admin, with each of its query
parameters and path ids replaced in turn by a hostile value. The answer is never 5xx; a refusal
is a problem document; an oversized value is always refused (4xx); and afterwards every table
of every schema is still there with the rows it had.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from baton.services import SERVICES
from services.feedback.main import create_app as feedback_app
from services.ingest.main import create_app as ingest_app
from services.routing.main import create_app as routing_app
from services.scoring.main import create_app as scoring_app
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.apps import running_app

APPS: dict[str, Callable[[], FastAPI]] = {
    "ingest": ingest_app,
    "scoring": scoring_app,
    "routing": routing_app,
    "feedback": feedback_app,
}
INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE routing.rep; --",
    "x' UNION SELECT email FROM ingest.submission --",
    "'); SELECT pg_sleep(10); --",
    "\\x00\\' OR 1=1 /*",
    "%' AND 1=CAST((SELECT version()) AS int) --",
    "nul\x00byte",  # PostgreSQL stores no NUL: refused (4xx), not a 500
]
OVERSIZED = "A" * 20_000


def neutral(schema: dict[str, Any]) -> str:
    """A harmless valid value for the parameters not under attack."""
    fmt = schema.get("format")
    if fmt == "uuid":
        return "00000000-0000-0000-0000-000000000001"
    if fmt == "date":
        return "2026-12-25"
    if fmt == "date-time":
        return "2026-12-25T00:00:00Z"
    if schema.get("type") == "integer":
        return "1"
    if "enum" in schema:
        return str(schema["enum"][0])
    return "probe"


def probes(document: dict[str, Any], value: str) -> list[tuple[str, str]]:
    """(label, url) for every GET with `value` in each path id and query parameter in turn."""
    found = []
    for path, operations in document["paths"].items():
        operation = operations.get("get")
        if operation is None:
            continue
        parameters = [p for p in operation.get("parameters", []) if p["in"] in {"path", "query"}]
        for target in parameters:
            url, query = path, []
            for parameter in parameters:
                given = value if parameter is target else neutral(parameter.get("schema", {}))
                if parameter["in"] == "path":
                    url = url.replace(f"{{{parameter['name']}}}", quote(given, safe=""))
                elif parameter is target or parameter.get("required"):
                    query.append(f"{parameter['name']}={quote(given, safe='')}")
            found.append((f"GET {path} [{target['name']}]", url + ("?" + "&".join(query) if query else "")))
    return found


def is_problem(response: httpx.Response) -> bool:
    return str(response.headers.get("content-type", "")).startswith("application/problem+json")


async def tables(db: Database) -> set[str]:
    async with db.transaction() as session:
        rows = await session.execute(
            text("SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(:schemas)"),
            {"schemas": list(SERVICES)},
        )
        return {f"{schema}.{table}" for schema, table in rows}


@pytest.mark.integration
@pytest.mark.parametrize("service", sorted(APPS))
async def test_hostile_query_and_path_values_are_refused_cleanly(
    service: str, db: Database, settings_env: Infra
) -> None:
    failures = []
    headers = bearer(Role.ADMIN)
    async with running_app(APPS[service](), consume=False) as client:
        document = (await client.get("/openapi.json")).json()
        before = await tables(db)
        for value in INJECTIONS:
            for label, url in probes(document, value):
                response = await client.get(url, headers=headers)
                if response.status_code >= 500 or (response.status_code >= 400 and not is_problem(response)):
                    failures.append(f"{label} {value!r}: {response.status_code} {response.text[:300]}")
        for label, url in probes(document, OVERSIZED):
            response = await client.get(url, headers=headers)
            if not (400 <= response.status_code < 500 and is_problem(response)):
                failures.append(f"{label} oversized: {response.status_code} {response.text[:300]}")
        after = await tables(db)
    assert not failures, "\n".join(failures)
    assert after == before
