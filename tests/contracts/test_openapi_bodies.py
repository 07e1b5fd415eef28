"""Every write operation in the committed OpenAPI documents says what its body is.

Routes that read the raw body themselves (signed webhooks, form posts, activity batches) are
invisible to FastAPI's inference, so a missing `requestBody` is easy to ship unnoticed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "scoring", "routing", "feedback")
WRITES = ("post", "put", "patch")

# Actions whose whole input is the path, the query and the caller's token: they take no body.
BODILESS = {
    ("scoring", "post", "/v1/rubrics/{version}/approvals"),
    ("scoring", "post", "/v1/rubrics/{version}/activate"),
    ("scoring", "post", "/v1/rubrics/{version}/backtest"),
    ("scoring", "put", "/v1/rubrics/{version}/shadow"),
    ("routing", "post", "/v1/assignments/{assignment_id}/accept"),
    ("routing", "post", "/v1/crm/syncs/{lead_id}/retry"),
    ("routing", "post", "/v1/routing/rules/{version}/activate"),
    ("routing", "post", "/v1/webhooks/{subscription_id}/deliveries/{delivery_id}/resend"),
}


def _writes() -> list[tuple[str, str, str, dict[str, Any]]]:
    found = []
    for service in SERVICES:
        document = json.loads((ROOT / "docs" / "openapi" / f"{service}.json").read_text())
        for path, operations in document["paths"].items():
            found += [(service, m, path, op) for m, op in operations.items() if m in WRITES]
    return found


@pytest.mark.parametrize(
    ("service", "method", "path", "operation"), _writes(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_write_with_a_body_documents_its_schema(
    service: str, method: str, path: str, operation: dict[str, Any]
) -> None:
    body = operation.get("requestBody")
    if (service, method, path) in BODILESS:
        assert body is None, f"{method.upper()} {path} now takes a body: take it out of BODILESS"
        return
    assert body is not None, f"{service}: {method.upper()} {path} documents no request body"
    assert body["content"], f"{service}: {method.upper()} {path} names no media type"
    for media_type, content in body["content"].items():
        schema = content.get("schema")
        assert schema, f"{service}: {method.upper()} {path} has no schema for {media_type}"
        assert "$ref" in schema or "type" in schema or "anyOf" in schema or "oneOf" in schema


def test_the_bodiless_actions_still_exist() -> None:
    assert BODILESS.issubset({(s, m, p) for s, m, p, _ in _writes()})
