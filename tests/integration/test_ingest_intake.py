"""Form posts arriving together are committed together, each answered as if it were alone."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text

from services.ingest.main import create_app
from shared.contracts import ActivityRecorded, LeadIngested
from shared.db import Database
from tests.conftest import Infra
from tests.support.ingest import ADMIN, configure_form, ingest_client, staged

LOCAL = ("127.0.0.1", 40000)


async def post(http: httpx.AsyncClient, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await http.post("/v1/forms/demo/submissions", json=body, headers=headers)


async def warm_form_cache(http: httpx.AsyncClient) -> None:
    """Have the app read the form once (a post refused after the lookup writes nothing). With a
    cold cache, posts sent together each read the form on their own connection, and those reads
    can finish in any order, so the posts would reach the writer in no order the test can know."""
    assert (await post(http, {})).status_code == 422


class TestGroupCommit:
    async def test_concurrent_posts_each_get_their_own_lead_and_event(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app(), client=LOCAL) as http:
            await configure_form(http, "demo")
            answers = await asyncio.gather(
                *(post(http, {"email": f"p{i}@together.example", "first_name": f"P{i}"}) for i in range(60))
            )
        assert [a.status_code for a in answers] == [202] * 60
        events = await staged(db, "lead.ingested")
        assert len(events) == 60
        by_email = {e.payload.email: e for e in events if isinstance(e, LeadIngested)}
        for i, answer in enumerate(answers):
            event = by_email[f"p{i}@together.example"]
            assert answer.json() == {"lead_id": str(event.lead_id), "event_id": str(event.event_id)}

    async def test_one_key_posted_many_times_at_once_is_written_once(
        self, db: Database, settings_env: Infra
    ) -> None:
        body = {"email": "ada@analytical.example", "first_name": "Ada"}
        async with ingest_client(create_app(), client=LOCAL) as http:
            await configure_form(http, "demo")
            await warm_form_cache(http)
            answers = await asyncio.gather(
                *(post(http, body, key="retry-1") for _ in range(8)),
                post(http, {**body, "first_name": "Eve"}, key="retry-1"),
            )
        assert [a.status_code for a in answers] == [202] * 8 + [422]
        assert len({a.text for a in answers[:8]}) == 1
        assert len(await staged(db, "lead.ingested")) == 1

    async def test_the_same_person_twice_in_a_batch_is_one_lead(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app(), client=LOCAL) as http:
            await configure_form(http, "demo")
            answers = await asyncio.gather(
                *(post(http, {"email": "Grace@Navy.example", "company": f"Navy {i}"}) for i in range(5))
            )
        assert len({a.json()["lead_id"] for a in answers}) == 1
        assert len({a.json()["event_id"] for a in answers}) == 5
        async with db.transaction() as session:
            leads = await session.scalar(text("SELECT count(*) FROM ingest.lead"))
        assert leads == 1

    async def test_a_visitor_revealed_in_a_batch_gets_their_past_stitched(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app(), client=LOCAL) as http:
            await configure_form(http, "demo")
            source = await http.post(
                "/v1/sources",
                json={"id": "site", "name": "site"},
                headers=ADMIN,
            )
            await http.post(
                "/v1/events",
                json={"events": [{"type": "page_view", "visitor_id": "cookie-9"}]},
                headers={"X-Api-Key": source.json()["api_key"]},
            )
            await asyncio.gather(
                post(http, {"email": "alan@bletchley.example", "visitor_id": "cookie-9"}),
                *(post(http, {"email": f"x{i}@crowd.example"}) for i in range(10)),
            )
        [activity] = await staged(db, "activity.recorded")
        assert isinstance(activity, ActivityRecorded)
        assert activity.payload.email == "alan@bletchley.example"
        assert activity.payload.stitched
