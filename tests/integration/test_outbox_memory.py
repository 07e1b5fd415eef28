"""The relay publishes what its own process staged from memory, and falls back to the table."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from services.ingest.models import outbox
from shared.contracts import LeadIngested, LeadIngestedPayload, utc_now
from shared.db import Database, sql_text
from shared.outbox import add_event, add_events, insert_sql, outbox_columns
from shared.outbox_relay import OutboxRelay
from tests.conftest import Infra
from tests.support.events import read_topic
from tests.support.relay import running_relay


def ingested_event(lead_id: uuid.UUID) -> LeadIngested:
    return LeadIngested.new(
        lead_id=lead_id,
        payload=LeadIngestedPayload(source="test", email=f"{lead_id}@example.com", submitted_at=utc_now()),
        producer="test",
    )


@pytest.fixture
async def relay(db: Database, migrated: Infra) -> AsyncIterator[OutboxRelay]:
    """A relay that polls only when told to (its timer is a minute), so what it publishes
    within a test came from memory or from a poll a commit asked for."""
    # Its first poll (for a previous run's rows) is done: the table is looked at again only
    # when a pass finds memory is not enough.
    async with running_relay(
        db, migrated.kafka_bootstrap_servers, client_id="relay-memory-test", poll_interval_s=60
    ) as running:
        yield running


async def published_for(migrated: Infra, lead: uuid.UUID, count: int) -> list[bytes]:
    records = await read_topic(
        migrated.kafka_bootstrap_servers,
        "lead.ingested",
        until=lambda rs: sum(r.key == str(lead).encode() for r in rs) >= count,
    )
    return [r.value for r in records if r.key == str(lead).encode()]


async def unsent(db: Database) -> int:
    async with db.transaction() as session:
        found = await session.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
        )
    return int(found or 0)


class TestPublishingFromMemory:
    async def test_events_staged_in_several_commits_are_published_in_order_and_marked_sent(
        self, db: Database, migrated: Infra, relay: OutboxRelay
    ) -> None:
        lead = uuid.uuid4()
        events = [ingested_event(lead) for _ in range(6)]
        for pair in (events[:2], events[2:4], events[4:]):
            async with db.transaction() as session:
                await add_events(session, outbox, pair)
        assert await published_for(migrated, lead, 6) == [e.to_bytes() for e in events]
        assert await unsent(db) == 0

    async def test_an_older_row_of_the_lead_left_unsent_goes_first(
        self, db: Database, migrated: Infra, relay: OutboxRelay
    ) -> None:
        lead = uuid.uuid4()
        # A row a crashed process committed and never published: in the table, not in memory.
        left_behind = ingested_event(lead)
        async with db.transaction() as session:
            await session.execute(sql_text(insert_sql(outbox)), outbox_columns([left_behind]))
        later = ingested_event(lead)
        async with db.transaction() as session:
            await add_event(session, outbox, later)
        assert await published_for(migrated, lead, 2) == [left_behind.to_bytes(), later.to_bytes()]
        assert await unsent(db) == 0
