"""Form posts arriving together are committed together, each answered as if it were alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest import service
from services.ingest.cache import FormCache
from services.ingest.intake import Accepted, accept_submissions
from services.ingest.main import create_app
from services.ingest.models import outbox
from services.ingest.schemas import FormCreate, FormRead
from services.ingest.service import prepare_submission
from services.ingest.worker import SubmissionWriter
from shared.contracts import ActivityRecorded, LeadIngested, utc_now
from shared.contracts.topics import LEAD_KEY_CHANGED
from shared.db import Database
from shared.outbox import StagedRow, _local_relays, notify_channel
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


class SpyRelay:
    """Stands in for this process's relay: records what a commit hands it."""

    def __init__(self) -> None:
        self.rows: list[StagedRow] = []
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1

    def staged(self, rows: list[StagedRow]) -> None:
        self.rows.extend(rows)


@pytest.fixture
def relay() -> Iterator[SpyRelay]:
    spy = SpyRelay()
    relays = _local_relays.setdefault(notify_channel(str(outbox.schema)), set())
    relays.add(spy)
    try:
        yield spy
    finally:
        relays.discard(spy)


def prepared(email: str, key: str | None = None) -> Any:
    now = utc_now()
    form = FormRead.model_validate({"id": "demo", "name": "Demo", "created_at": now, "updated_at": now})
    return prepare_submission(form, fields={"email": email}, idempotency_key=key, check_origin=False)


class TestAcceptSubmissions:
    async def test_the_events_staged_are_handed_to_the_relay_of_this_process(
        self, db: Database, migrated: Infra, relay: SpyRelay
    ) -> None:
        batch = [prepared(f"m{i}@memory.example") for i in range(3)]
        async with db.transaction() as session:
            answers = await accept_submissions(session, batch)
        event_ids = [str(a.answer.event_id) for a in answers if not isinstance(a, Exception)]
        # Each new lead's sealing key goes first (docs/erasure.md), then the events.
        keys, events = relay.rows[:3], relay.rows[3:]
        assert {row.topic for row in keys} == {LEAD_KEY_CHANGED}
        assert [row.headers["event_id"] for row in events] == event_ids
        assert {row.topic for row in events} == {"lead.ingested"}
        # From memory alone: the table is not polled for them.
        assert relay.wakes == 0

    async def test_a_key_taken_before_hands_over_only_the_new_submission(
        self, db: Database, migrated: Infra, relay: SpyRelay
    ) -> None:
        async with db.transaction() as session:
            await accept_submissions(session, [prepared("first@memory.example", key="k-1")])
        relay.rows.clear()
        async with db.transaction() as session:
            answers = await accept_submissions(
                session, [prepared("first@memory.example", key="k-1"), prepared("second@memory.example")]
            )
        first, second = answers
        assert isinstance(first, Accepted)
        assert first.duplicate
        assert isinstance(second, Accepted)
        assert not second.duplicate
        events = [row for row in relay.rows if row.topic != LEAD_KEY_CHANGED]
        assert [row.headers["event_id"] for row in events] == [str(second.answer.event_id)]

    async def test_a_rolled_back_batch_hands_over_nothing(
        self, db: Database, migrated: Infra, relay: SpyRelay
    ) -> None:
        async def fail_after_staging() -> None:
            async with db.transaction() as session:
                await accept_submissions(session, [prepared("gone@memory.example")])
                raise RuntimeError("the batch fails after staging")

        with pytest.raises(RuntimeError):
            await fail_after_staging()
        assert relay.rows == []

    async def test_a_new_person_in_two_batches_at_once_has_one_key_and_both_events_open(
        self, db: Database, migrated: Infra, relay: SpyRelay
    ) -> None:
        async def accept_alone(email: str) -> None:
            async with db.transaction() as session:
                await accept_submissions(session, [prepared(email)])

        async with db.transaction() as first:
            await accept_submissions(first, [prepared("race@memory.example")])
            # The second batch waits on the lead the first created, then finds it and its key
            # committed, neither in the snapshot its statement read.
            second = asyncio.create_task(accept_alone("race@memory.example"))
            await _until_waiting_on_a_lock(db)
        await second
        async with db.transaction() as session:
            keys = (await session.execute(text("SELECT count(*) FROM ingest.lead_key"))).scalar_one()
            records = (
                await session.execute(
                    text("SELECT count(*) FROM ingest.outbox WHERE topic = :t"), {"t": LEAD_KEY_CHANGED}
                )
            ).scalar_one()
        assert (keys, records) == (1, 1)
        events = await staged(db, "lead.ingested")
        assert [e.payload.email for e in events if isinstance(e, LeadIngested)] == ["race@memory.example"] * 2
        assert len({row.key for row in relay.rows if row.topic == LEAD_KEY_CHANGED}) == 1


async def _until_waiting_on_a_lock(db: Database) -> None:
    while True:
        async with db.transaction() as session:
            waiting = await session.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            )
        if waiting:
            return
        await asyncio.sleep(0.01)


class TestSubmissionWriter:
    async def test_a_client_that_hangs_up_leaves_its_submission_written(
        self, db: Database, migrated: Infra
    ) -> None:
        writer = SubmissionWriter(db)
        await writer.start()
        waiting = asyncio.create_task(writer.submit(prepared("gone@hangup.example")))
        await asyncio.sleep(0)  # queued
        waiting.cancel()
        await writer.stop()
        assert waiting.cancelled()
        [event] = await staged(db, "lead.ingested")
        assert isinstance(event, LeadIngested)
        assert event.payload.email == "gone@hangup.example"

    async def test_posts_that_miss_the_form_cache_together_share_one_read(
        self, db: Database, migrated: Infra, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with db.transaction() as session:
            await service.save_form(session, form=FormCreate(id="demo", name="Demo"), actor="test")
        reads = 0
        read_form = service.find_form

        async def counted(session: AsyncSession, **kwargs: Any) -> FormRead:
            nonlocal reads
            reads += 1
            return await read_form(session, **kwargs)

        monkeypatch.setattr(service, "find_form", counted)
        writer = SubmissionWriter(db, forms=FormCache(ttl_s=60))
        forms = await asyncio.gather(*(writer.find_form("demo") for _ in range(5)))
        assert {form.id for form in forms} == {"demo"}
        assert reads == 1
        await writer.find_form("demo")  # cached now
        assert reads == 1
