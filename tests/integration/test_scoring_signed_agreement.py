"""The whole agreement through scoring's API: a version with a revenue goal shows marketing's MQL
commitment derived from the planning rates, diffs against the active version, and once both
teams sign it `rubric.activated` carries its terms to routing and feedback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.scoring import service
from services.scoring.main import create_app
from services.scoring.rubric import load_rubric
from shared.auth import Role
from shared.contracts import LeadIngested, LeadIngestedPayload, RubricActivated, decode_event, utc_now
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.integration.test_scoring_agreement import draft
from tests.support.apps import running_service
from tests.unit.test_scoring_agreement_terms import PERSONAS, PLAN

MARKETING, SALES = bearer(Role.MARKETING), bearer(Role.SALES)


def agreement(version: str, **overrides: Any) -> dict[str, Any]:
    document = draft(version)
    document["personas"] = PERSONAS
    document["plan"] = PLAN
    document["nurture"] = {"recycle_cooldown_days": 21}
    document["sla"] = [
        {**tier, "accept_minutes": 30, "contact_minutes": 60, "min_attempts": 6, "attempt_business_days": 10}
        for tier in document["sla"]
    ]
    document.update(overrides)
    return document


@pytest.fixture
async def client(db: Database, settings_env: Infra) -> AsyncIterator[httpx.AsyncClient]:
    async with running_service(create_app(), db) as client:
        yield client


async def test_a_revenue_goal_shows_the_derived_mql_commitment(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/rubrics", json=agreement("2027.q1"), headers=MARKETING)
    read = await client.get("/v1/rubrics/2027.q1", headers=SALES)

    assert created.status_code == 201, created.text
    plan = read.json()["plan"]
    assert (plan["won_deals_needed"], plan["sqls_needed"], plan["mql_commitment"]) == (40, 160, 400)
    assert (plan["accepted_mqls_committed"], plan["leads_needed"]) == (240, 2000)
    assert plan["revenue_goal"] == {"amount": "1200000", "currency": "EUR"}


async def test_changing_the_goal_changes_marketings_number_and_the_diff_says_so(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/v1/rubrics", json=agreement("2027.q1"), headers=MARKETING)
    higher = {**PLAN, "revenue_goal": {"amount": "1500000", "currency": "EUR"}}
    await client.post("/v1/rubrics", json=agreement("2027.q1-b", plan=higher), headers=MARKETING)
    read = await client.get("/v1/rubrics/2027.q1-b", headers=SALES)
    diff = await client.get("/v1/rubrics/2027.q1-b/diff", params={"against": "2027.q1"}, headers=SALES)

    assert read.json()["plan"]["mql_commitment"] == 500
    assert diff.status_code == 200, diff.text
    assert diff.json()["changed_sections"] == ["plan"]


async def test_activation_carries_the_signed_terms(client: httpx.AsyncClient, db: Database) -> None:
    await client.post("/v1/rubrics", json=agreement("2027.q1"), headers=MARKETING)
    await client.post("/v1/rubrics/2027.q1/approvals", headers=MARKETING)
    await client.post("/v1/rubrics/2027.q1/approvals", headers=SALES)
    activated = await client.post("/v1/rubrics/2027.q1/activate", headers=SALES)
    async with db.transaction() as session:
        value = await session.scalar(
            text(
                "SELECT value FROM scoring.outbox WHERE event_type = 'rubric.activated' ORDER BY id DESC LIMIT 1"
            )
        )
    event = decode_event(value)

    assert activated.status_code == 200, activated.text
    assert isinstance(event, RubricActivated)
    terms = event.payload.agreement
    assert terms is not None
    assert (terms.mql_commitment, terms.acceptance_commitment, terms.currency) == (400, 0.6, "EUR")
    assert terms.personas == ["revops-leader", "big-company"]
    assert terms.recycle_cooldown_days == 21
    assert {(t.tier, t.min_attempts, t.contact_minutes) for t in terms.tiers} == {
        (tier, 6, 60) for tier in ("A", "B", "C", "D")
    }


async def test_a_form_marketing_flags_outside_the_agreement_qualifies_nobody(db: Database) -> None:
    # Ingest passes a form's own `is_hand_raiser` along; only the agreement's hand-raiser forms
    # (demo-request and contact-sales in the starter rubric) qualify a lead at once.
    flagged, listed = uuid.uuid4(), uuid.uuid4()
    for lead_id, form_id in ((flagged, "newsletter"), (listed, "demo-request")):
        payload = LeadIngestedPayload(
            source="form",
            form_id=form_id,
            email=f"{lead_id}@acme.io",
            submitted_at=utc_now(),
            is_hand_raiser=True,
        )
        event = LeadIngested.new(lead_id=lead_id, payload=payload, producer="ingest")
        async with db.transaction() as session:
            await service.score_lead(session, rubric=load_rubric(), event=event)
    async with db.transaction() as session:
        qualified = set(
            (
                await session.execute(
                    text("SELECT key FROM scoring.outbox WHERE event_type = 'lead.qualified'")
                )
            ).scalars()
        )
    assert (str(flagged) in qualified, str(listed) in qualified) == (False, True)
