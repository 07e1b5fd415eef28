"""Touches, not merged UTM: each submission keeps its own attribution; the lead its first."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from services.ingest.main import create_app
from shared.contracts import LeadIngested
from shared.db import Database
from tests.conftest import Infra
from tests.support.ingest import configure_form, ingest_client, staged


async def test_two_submissions_with_different_campaigns_stay_two_touches(
    db: Database, settings_env: Infra
) -> None:
    email = f"toby-{uuid.uuid4().hex[:8]}@touch.example"
    async with ingest_client(create_app()) as http:
        await configure_form(http, "webinar")
        first = await http.post(
            "/v1/forms/webinar/submissions",
            json={
                "email": email,
                "page_url": "https://www.example.com/webinar?utm_source=linkedin&utm_medium=paid&li_fat_id=abc-1",
            },
        )
        second = await http.post(
            "/v1/forms/webinar/submissions",
            json={"email": email, "utm_campaign": "701Hs000001", "gclid": "Cj0KCQ-2"},
        )
    assert first.status_code == second.status_code == 202, (first.text, second.text)
    assert first.json()["lead_id"] == second.json()["lead_id"]

    async with db.transaction() as session:
        touches = (
            (
                await session.execute(
                    text("SELECT touch FROM ingest.submission WHERE lead_id = :id ORDER BY received_at"),
                    {"id": first.json()["lead_id"]},
                )
            )
            .scalars()
            .all()
        )
    assert [(t["source"], t["medium"], t["campaign"]) for t in touches] == [
        ("linkedin", "paid", None),
        (None, None, "701Hs000001"),
    ]
    assert [t["click_ids"] for t in touches] == [{"li_fat_id": "abc-1"}, {"gclid": "Cj0KCQ-2"}]

    events = {str(e.event_id): e for e in await staged(db, "lead.ingested") if isinstance(e, LeadIngested)}
    later = events[second.json()["event_id"]].payload
    assert later.utm == {"campaign": "701Hs000001"}
    assert later.first_touch is not None
    assert later.latest_touch is not None
    assert (later.first_touch.source, later.first_touch.medium, later.first_touch.campaign) == (
        "linkedin",
        "paid",
        None,
    )
    assert (later.latest_touch.source, later.latest_touch.campaign) == (None, "701Hs000001")
    earlier = events[first.json()["event_id"]].payload
    assert earlier.first_touch == earlier.latest_touch
