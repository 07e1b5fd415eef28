"""Scoring's profile keeps the latest touch's UTM tags whole: one touch's tag never lands on top
of another's (issue 14), whatever order the observations arrive in."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.scoring.lead_repository import ProfileRepository
from shared.contracts import utc_now
from shared.db import Database
from tests.conftest import Infra


async def test_the_latest_touch_replaces_the_tags_and_late_or_empty_ones_do_not(
    db: Database, settings_env: Infra
) -> None:
    lead_id, start = uuid.uuid4(), utc_now()
    linkedin = {"source": "linkedin", "medium": "paid"}
    web_to_lead = {"campaign": "701Hs000001"}
    observations = [
        (start + timedelta(minutes=1), {"email": "t@touch.example", "utm": linkedin}),
        (start + timedelta(minutes=2), {"utm": web_to_lead}),
        (start + timedelta(minutes=3), {"company": "Touch Co"}),  # an activity: no touch
        (start, {"utm": {"source": "late", "campaign": "older"}}),  # processed late, older
    ]
    async with db.transaction() as session:
        for observed_at, fields in observations:
            merged = await ProfileRepository(session).merge(
                lead_id, observed_at=observed_at, now=utc_now(), fields=fields
            )
    assert merged.utm == web_to_lead
    assert merged.company == "Touch Co"
