"""A lead reachable only by phone is a lead: ingested, scored, qualified, assigned and counted."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from services.feedback.main import create_app as create_feedback
from services.ingest.main import create_app as create_ingest
from services.routing.main import create_app as create_routing
from services.scoring.main import create_app as create_scoring
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.apps import running_app, running_service
from tests.support.waiting import eventually

ADMIN = bearer(Role.ADMIN)


def _phone() -> str:
    # A fresh UK number per run (Ofcom's drama range, 07700 900000-900999, is never assigned).
    return f"+447700900{uuid.uuid4().int % 1000:03d}"


async def test_a_phone_only_form_post_is_scored_qualified_assigned_and_counted(
    db: Database, settings_env: Infra
) -> None:
    phone = _phone()
    async with (
        running_service(create_feedback(), db) as feedback,
        running_service(create_routing(), db) as routing,
        running_service(create_scoring(), db) as scoring,
        running_service(create_ingest(), db) as ingest,
    ):
        await routing.post("/v1/reps", json={"name": "Pam", "email": "pam@example.com"}, headers=ADMIN)
        # A form the signed agreement names as a hand-raiser (the starter's `contact-sales`):
        # marking a form a hand-raiser in ingest alone no longer qualifies its leads.
        form = {"id": "contact-sales", "name": "Contact sales", "is_hand_raiser": True}
        await ingest.post("/v1/forms", json=form, headers=ADMIN)
        posted = await ingest.post(
            "/v1/forms/contact-sales/submissions",
            json={
                "first_name": "Pat",
                "last_name": "Phone",
                "phone": phone.replace("+44", "0"),
                "country": "GB",
            },
        )
        assert posted.status_code == 202, posted.text
        lead_id = posted.json()["lead_id"]

        async def assigned() -> None:
            response = await routing.get(f"/v1/leads/{lead_id}/assignment", headers=ADMIN)
            assert response.status_code == 200, response.text

        await eventually(assigned, timeout_s=30)
        score = await scoring.get(f"/v1/leads/{lead_id}/score", headers=ADMIN)
        assert score.status_code == 200
        assert score.json()["is_mql"] is True

        async def counted() -> None:
            async with db.transaction() as session:
                fact = (
                    await session.execute(
                        text(
                            "SELECT ingested_at, mql_at, assigned_at FROM feedback.lead_fact WHERE lead_id = :id"
                        ),
                        {"id": lead_id},
                    )
                ).one()
            assert all(moment is not None for moment in fact)

        await eventually(counted, timeout_s=30)
        assert feedback is not None


class TestPhoneIdentity:
    async def test_the_same_number_is_the_same_lead(self, db: Database, settings_env: Infra) -> None:
        phone = _phone()
        async with running_app(create_ingest()) as client:
            await client.post("/v1/forms", json={"id": "callback", "name": "Callback"}, headers=ADMIN)
            first = await client.post("/v1/forms/callback/submissions", json={"phone": phone})
            again = await client.post(
                "/v1/forms/callback/submissions", json={"phone": phone.replace("+44", "0044 ")}
            )
        assert first.status_code == again.status_code == 202, (first.text, again.text)
        assert first.json()["lead_id"] == again.json()["lead_id"]
        assert first.json()["event_id"] != again.json()["event_id"]

    async def test_a_body_without_email_or_phone_gets_a_422_that_says_so(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with running_app(create_ingest()) as client:
            await client.post("/v1/forms", json={"id": "callback", "name": "Callback"}, headers=ADMIN)
            response = await client.post("/v1/forms/callback/submissions", json={"first_name": "Nobody"})
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        messages = " ".join(e["msg"] for e in response.json()["errors"])
        assert "email" in messages
        assert "phone" in messages
