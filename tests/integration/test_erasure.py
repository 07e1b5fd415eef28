"""An erasure at ingest reaches every service that holds the person: identity gone, counts kept."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from services.ingest.main import create_app as create_ingest
from services.routing.main import create_app as create_routing
from services.scoring.main import create_app as create_scoring
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.apps import running_service
from tests.support.waiting import eventually


async def test_erased_lead_loses_its_identity_in_scoring_and_routing(
    db: Database, settings_env: Infra
) -> None:
    admin = bearer(Role.ADMIN)
    email = f"erase-{uuid.uuid4().hex[:8]}@acme.io"
    async with (
        running_service(create_routing(), db) as routing,
        running_service(create_scoring(), db) as scoring,
        running_service(create_ingest(), db) as ingest,
    ):
        await routing.post("/v1/reps", json={"name": "Ern", "email": "ern@example.com"}, headers=admin)
        form = {"id": "demo-request", "name": "Demo request", "is_hand_raiser": True}
        await ingest.post("/v1/forms", json=form, headers=admin)
        posted = await ingest.post(
            "/v1/forms/demo-request/submissions",
            json={"email": email, "first_name": "Ern", "last_name": "Estine", "phone": "+44 20 7946 0958"},
        )
        lead_id = posted.json()["lead_id"]

        async def assigned() -> None:
            response = await routing.get(f"/v1/leads/{lead_id}/assignment", headers=admin)
            assert response.status_code == 200

        await eventually(assigned, timeout_s=30)
        erased = await ingest.delete(f"/v1/leads/{lead_id}", headers=admin)
        assert erased.status_code in (200, 202, 204), erased.text

        async def forgotten() -> None:
            async with db.transaction() as session:
                profile = (
                    await session.execute(
                        text(
                            "SELECT email, first_name, last_name, phone FROM scoring.lead_profile WHERE lead_id = :id"
                        ),
                        {"id": lead_id},
                    )
                ).one()
                snapshot = await session.scalar(
                    text("SELECT lead FROM routing.assignment WHERE lead_id = :id"), {"id": lead_id}
                )
            assert tuple(profile) == ("", None, None, None)
            assert snapshot == {"erased": True}

        await eventually(forgotten, timeout_s=30)
        score = await scoring.get(f"/v1/leads/{lead_id}/score", headers=admin)
        assert score.status_code == 200
        assert score.json()["is_mql"] is True
