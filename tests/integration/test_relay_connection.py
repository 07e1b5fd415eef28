"""The relay keeps one connection between passes (`shared.outbox_driver`): when the server ends it,
the failed pass rolls back and the next one publishes on a fresh connection, nothing lost."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.ingest.models import outbox
from shared.contracts import LeadIngested, LeadIngestedPayload, utc_now
from shared.db import Database, sql_text
from shared.kafka import create_producer
from shared.outbox import add_events, insert_sql, notify_channel, outbox_columns
from shared.outbox_relay import OutboxRelay
from tests.conftest import Infra
from tests.support.events import read_topic
from tests.support.relay import running_relay
from tests.support.waiting import wait_until


@pytest.fixture
async def relay(db: Database, migrated: Infra) -> AsyncIterator[OutboxRelay]:
    async with running_relay(
        db, migrated.kafka_bootstrap_servers, client_id="relay-connection-test", poll_interval_s=0.2
    ) as running:
        yield running


async def _server_pid(conn: AsyncConnection) -> int:
    driver: Any = (await conn.get_raw_connection()).driver_connection
    return int(driver.get_server_pid())


async def _stage(db: Database, lead: uuid.UUID, count: int) -> list[LeadIngested]:
    payload = LeadIngestedPayload(source="test", email=f"{lead}@example.com", submitted_at=utc_now())
    events = [LeadIngested.new(lead_id=lead, payload=payload, producer="test") for _ in range(count)]
    async with db.transaction() as session:
        await add_events(session, outbox, events)
    return events


class TestRelayConnection:
    async def test_a_connection_the_server_ended_is_replaced_and_every_event_goes_once(
        self, db: Database, migrated: Infra, relay: OutboxRelay
    ) -> None:
        lead = uuid.uuid4()
        events = await _stage(db, lead, 3)
        await wait_until(lambda: relay._sql._held is not None)
        held = relay._sql._held
        assert held is not None
        pid = await _server_pid(held)
        async with db.transaction() as session:
            await session.execute(select(func.pg_terminate_backend(pid)))

        events += await _stage(db, lead, 3)

        records = await read_topic(
            migrated.kafka_bootstrap_servers,
            "lead.ingested",
            until=lambda rs: sum(r.key == str(lead).encode() for r in rs) >= len(events),
        )
        assert [r.value for r in records if r.key == str(lead).encode()] == [e.to_bytes() for e in events]
        async with db.transaction() as session:
            unsent = await session.scalar(text("SELECT count(*) FROM ingest.outbox WHERE sent_at IS NULL"))
        assert unsent == 0
        replaced = relay._sql._held
        assert replaced is not None
        assert await _server_pid(replaced) != pid

    async def test_the_kept_connection_listens_for_other_processes_commits(
        self, db: Database, migrated: Infra
    ) -> None:
        kafka = create_producer(migrated.kafka_bootstrap_servers, client_id="relay-listen-test")
        await kafka.start()
        # No timer to fall back on within the test: only the NOTIFY can wake this relay.
        relay = OutboxRelay(db=db, table=outbox, producer=kafka, service="test", poll_interval_s=600)
        await relay.start()
        try:
            await wait_until(lambda: not relay._poll_due)
            lead = uuid.uuid4()
            payload = LeadIngestedPayload(source="test", email=f"{lead}@example.com", submitted_at=utc_now())
            event = LeadIngested.new(lead_id=lead, payload=payload, producer="test")
            # As another process commits: the row and a NOTIFY, nothing handed to this relay.
            async with db.transaction() as session:
                await session.execute(sql_text(insert_sql(outbox)), outbox_columns([event]))
                await session.execute(select(func.pg_notify(notify_channel("ingest"), "")))
            records = await read_topic(
                migrated.kafka_bootstrap_servers,
                "lead.ingested",
                until=lambda rs: any(r.key == str(lead).encode() for r in rs),
            )
            assert [r.value for r in records if r.key == str(lead).encode()] == [event.to_bytes()]
        finally:
            await relay.stop()
            await kafka.stop()

    async def test_a_prune_on_the_kept_connection_deletes_rows_sent_beyond_retention(
        self, db: Database, relay: OutboxRelay
    ) -> None:
        lead = uuid.uuid4()
        payload = LeadIngestedPayload(source="test", email=f"{lead}@example.com", submitted_at=utc_now())
        old, recent = (LeadIngested.new(lead_id=lead, payload=payload, producer="test") for _ in range(2))
        async with db.transaction() as session:
            await session.execute(sql_text(insert_sql(outbox)), outbox_columns([old, recent]))
            await session.execute(
                text(
                    "UPDATE ingest.outbox SET sent_at = now() - CASE WHEN event_id = :old THEN interval '8 days' ELSE interval '1 day' END WHERE key = :key"
                ),
                {"old": old.event_id, "key": str(lead)},
            )
        await relay._prune()
        async with db.transaction() as session:
            left = list(await session.scalars(select(outbox.c.event_id).where(outbox.c.key == str(lead))))
        assert left == [recent.event_id]
