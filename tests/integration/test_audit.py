"""The audit trail: every rubric change and proposal is recorded by the request that made it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from importlib.resources import files
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.feedback.main import create_app as create_feedback_app
from services.scoring.main import create_app as create_scoring_app
from services.scoring.rubric import load_rubric
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.apps import running_app, running_service

pytestmark = pytest.mark.integration

MARKETING, SALES, MANAGER = bearer(Role.MARKETING), bearer(Role.SALES), bearer(Role.MANAGER)


def starter() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        (files("services.scoring.rubrics") / "starter.yaml").read_text()
    )
    return document


def draft(version: str, *, min_total: float = 100) -> dict[str, Any]:
    document = load_rubric().model_dump(mode="json")
    document["version"] = version
    document["qualification"]["min_total"] = min_total
    return document


@pytest.fixture
async def scoring(db: Database, settings_env: Infra) -> AsyncIterator[httpx.AsyncClient]:
    async with running_service(create_scoring_app(), db) as client:
        yield client


async def audit(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/audit", params=params, headers=MANAGER)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


async def test_each_rubric_change_is_recorded_with_who_before_and_after(scoring: httpx.AsyncClient) -> None:
    version = f"audit-{uuid.uuid4().hex[:8]}"
    steps = [
        scoring.post("/v1/rubrics", json=draft(version), headers=MARKETING),
        scoring.post(f"/v1/rubrics/{version}/approvals", headers=MARKETING),
        scoring.put(f"/v1/rubrics/{version}", json=draft(version, min_total=90), headers=MANAGER),
        scoring.post(f"/v1/rubrics/{version}/approvals", headers=MARKETING),
        scoring.post(f"/v1/rubrics/{version}/approvals", headers=SALES),
        scoring.put(f"/v1/rubrics/{version}/shadow", headers=MANAGER),
        scoring.delete(f"/v1/rubrics/{version}/shadow", headers=MANAGER),
        scoring.post(f"/v1/rubrics/{version}/activate", headers=MANAGER),
    ]
    for step in steps:
        response = await step
        assert response.status_code in (200, 201), response.text

    entries = await audit(scoring, object_type="rubric", object_id=version)
    assert [(e["action"], e["actor"]) for e in reversed(entries)] == [
        ("rubric.drafted", "test-marketing"),
        ("rubric.approved", "test-marketing"),
        ("rubric.edited", "test-manager"),
        ("rubric.approved", "test-marketing"),
        ("rubric.approved", "test-sales"),
        ("rubric.shadow_started", "test-manager"),
        ("rubric.shadow_stopped", "test-manager"),
        ("rubric.activated", "test-manager"),
    ]
    by_action = {e["action"]: e for e in reversed(entries)}  # the latest of each
    edited = by_action["rubric.edited"]
    assert edited["before"]["document"]["qualification"]["min_total"] == 100
    assert edited["after"]["document"]["qualification"]["min_total"] == 90
    assert edited["before"]["approved_by"] == {"marketing": "test-marketing"}  # withdrawn by the edit
    assert by_action["rubric.approved"]["before"] == {"approved_by": {"marketing": "test-marketing"}}
    assert by_action["rubric.approved"]["after"]["approved_by"] == {
        "marketing": "test-marketing",
        "sales": "test-sales",
    }
    activated = by_action["rubric.activated"]
    assert activated["before"]["status"] == "draft"
    assert activated["after"] == {
        "status": "active",
        "active_version": version,
        "approved_by": {"marketing": "test-marketing", "sales": "test-sales"},
    }
    assert entries[0]["at"] >= entries[-1]["at"]

    by_sales = await audit(scoring, actor="test-sales")
    assert [e["action"] for e in by_sales] == ["rubric.approved"]
    page = await audit(scoring, object_id=version, limit="3")
    older = await audit(scoring, object_id=version, before_id=str(page[-1]["id"]))
    assert [e["id"] for e in page + older] == [e["id"] for e in entries]


async def test_a_refused_change_leaves_no_entry(scoring: httpx.AsyncClient) -> None:
    version = f"audit-{uuid.uuid4().hex[:8]}"
    assert (await scoring.post("/v1/rubrics", json=draft(version), headers=SALES)).status_code == 201
    refused = await scoring.post(f"/v1/rubrics/{version}/activate", headers=MANAGER)  # nobody approved
    assert refused.status_code == 409, refused.text
    mismatch = await scoring.put(f"/v1/rubrics/{version}", json=draft("another"), headers=SALES)
    assert mismatch.status_code == 422, mismatch.text
    assert [e["action"] for e in await audit(scoring, object_id=version)] == ["rubric.drafted"]


async def test_only_admins_and_managers_read_the_trail(scoring: httpx.AsyncClient) -> None:
    for role in (Role.REP, Role.MARKETING, Role.SALES, Role.SOURCE):
        assert (await scoring.get("/v1/audit", headers=bearer(role))).status_code == 403, role
    assert (await scoring.get("/v1/audit")).status_code == 401
    assert (await scoring.get("/v1/audit", headers=bearer(Role.ADMIN))).status_code == 200
    assert (await scoring.get("/v1/audit", params={"limit": 0}, headers=MANAGER)).status_code == 422


async def test_the_database_refuses_to_alter_or_erase_an_entry(
    scoring: httpx.AsyncClient, db: Database
) -> None:
    version = f"audit-{uuid.uuid4().hex[:8]}"
    assert (await scoring.post("/v1/rubrics", json=draft(version), headers=SALES)).status_code == 201
    for statement in (
        "UPDATE scoring.audit_entry SET actor = 'someone-else'",
        "DELETE FROM scoring.audit_entry",
    ):
        with pytest.raises(DBAPIError, match="the audit trail is append-only"):
            async with db.transaction() as session:
                await session.execute(text(statement))
    assert [e["actor"] for e in await audit(scoring, object_id=version)] == ["test-sales"]


async def test_a_rubric_proposal_is_recorded_by_feedback(db: Database, settings_env: Infra) -> None:
    version = f"proposal-{uuid.uuid4().hex[:8]}"
    async with running_app(create_feedback_app()) as feedback:
        response = await feedback.post(
            "/v1/proposals", json={"rubric": starter(), "version": version, "method": "lift"}, headers=SALES
        )
        assert response.status_code == 200, response.text
        entries = await audit(feedback, object_type="rubric_proposal")
    assert [(e["action"], e["actor"], e["object_id"]) for e in entries] == [
        ("rubric.proposed", "test-sales", version)
    ]
    assert entries[0]["after"]["method"] == "lift"
    assert entries[0]["after"]["activation"] in ("approval", "auto")
