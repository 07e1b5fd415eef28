"""Activities feed engagement: live ones score the lead, stitched ones re-score it."""

from __future__ import annotations

from typing import Any

import httpx

from services.ingest.main import create_app as create_ingest_app
from services.scoring.main import create_app as create_scoring_app
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.apps import running_service
from tests.support.ingest import configure_form, ingest_client
from tests.support.waiting import eventually

READER = bearer(Role.MARKETING)
SOURCE = bearer(Role.SOURCE, source_id="website")


async def fired_rules(scoring: httpx.AsyncClient, lead_id: str, expected: set[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def fired() -> None:
        response = await scoring.get(f"/v1/leads/{lead_id}/score", headers=READER)
        assert response.status_code == 200, response.text
        found.update(response.json())
        assert expected <= {r["rule_id"] for r in found["fired_rules"]}

    await eventually(fired, timeout_s=30)
    return found


class TestActivityScoring:
    async def test_a_known_leads_activity_counts_as_engagement(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with (
            running_service(create_scoring_app(), db) as scoring,
            ingest_client(create_ingest_app()) as ingest,
        ):
            response = await ingest.post(
                "/v1/events",
                json={"events": [{"type": "webinar_attended", "email": "ada@analytical.example"}]},
                headers=SOURCE,
            )
            lead_id = response.json()["results"][0]["lead_id"]
            score = await fired_rules(scoring, lead_id, {"webinar-attended"})
        assert score["engagement_score"] >= 15

    async def test_anonymous_activity_stitched_by_a_form_rescores_the_lead(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with (
            running_service(create_scoring_app(), db) as scoring,
            ingest_client(create_ingest_app()) as ingest,
        ):
            await configure_form(ingest, "newsletter")
            await ingest.post(
                "/v1/events",
                json={
                    "events": [
                        {"type": "page_view", "visitor_id": "v-77", "url": "https://x.example/pricing"}
                    ]
                },
                headers=SOURCE,
            )
            submitted = await ingest.post(
                "/v1/forms/newsletter/submissions", json={"email": "grace@navy.example", "visitor_id": "v-77"}
            )
            lead_id = submitted.json()["lead_id"]
            await fired_rules(scoring, lead_id, {"form-submission", "pricing-page"})
