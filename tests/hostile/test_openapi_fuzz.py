"""Schemathesis against every service's own OpenAPI document, in-process, with its lifespan.

Each service runs for real (database, broker, relay, consumer) behind `running_app`; its
`/openapi.json` drives schemathesis, which generates up to `MAX_EXAMPLES` requests per
operation with an admin bearer. Hypothesis runs in a worker thread and hands every request
to the test's event loop, where the app and its connections live. The checks: no 5xx (an
exception escaping a route counts as one) and every response conforms to its documented schema.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from services.feedback.main import create_app as feedback_app
from services.ingest.main import create_app as ingest_app
from services.routing.main import create_app as routing_app
from services.scoring.main import create_app as scoring_app
from shared.auth import Role
from tests.conftest import Infra, bearer
from tests.support.apps import running_app

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]

APPS: dict[str, Callable[[], FastAPI]] = {
    "ingest": ingest_app,
    "scoring": scoring_app,
    "routing": routing_app,
    "feedback": feedback_app,
}

# "METHOD /path" operations left out, each with the open bug that makes it fail.
EXCLUDED: dict[str, str] = {}


def to_httpx(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Schemathesis serializes a case for `requests`; let `requests` encode it, send the bytes."""
    prepared = requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        cookies=kwargs.get("cookies"),
        json=kwargs.get("json"),
        data=kwargs.get("data"),
        files=kwargs.get("files"),
    ).prepare()
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    return {
        "method": prepared.method,
        "url": prepared.url,
        "headers": dict(prepared.headers),
        "content": body,
    }


async def fuzz(client: httpx.AsyncClient, service: str, headers: dict[str, str]) -> list[str]:
    """Fuzz every operation; returns one line per failing operation (empty when all pass)."""
    document = (await client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    loop = asyncio.get_running_loop()
    failures: list[str] = []

    def send(case: Any) -> httpx.Response:
        kwargs = to_httpx(case.as_transport_kwargs(base_url="http://testserver", headers=headers))
        future = asyncio.run_coroutine_threadsafe(client.request(**kwargs), loop)
        try:
            return future.result(timeout=60)
        except Exception as exc:
            # The ASGI transport re-raises what escaped the app: the 500 a real server would send.
            raise AssertionError(
                f"unhandled {type(exc).__name__} for {kwargs['method']} {kwargs['url']}:\n"
                + "".join(traceback.format_exception(exc)[-6:])
            ) from exc

    def run_operation(operation: Any) -> None:
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = send(case)
            case.validate_response(response, checks=CHECKS, headers=headers)

        check()

    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in EXCLUDED:
            continue
        try:
            await asyncio.to_thread(run_operation, operation)
        except Exception as exc:
            failures.append(f"{service} {label}: {str(exc)[:3000]}")
    return failures


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("service", sorted(APPS))
async def test_no_operation_answers_5xx_or_breaks_its_schema(service: str, settings_env: Infra) -> None:
    async with running_app(APPS[service](), consume=False) as client:
        failures = await fuzz(client, service, bearer(Role.ADMIN))
    assert not failures, "\n\n".join(failures)
