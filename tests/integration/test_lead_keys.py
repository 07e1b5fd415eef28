"""Lead keys reach every consumer ahead of the events sealed with them, and erasure destroys them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from services.ingest.models import outbox
from services.ingest.sealing import lead_keys, sealed, sealed_fields, shred_key
from shared.contracts import (
    LeadErased,
    LeadErasedPayload,
    LeadIngested,
    LeadIngestedPayload,
    decode_event,
    utc_now,
)
from shared.contracts.topics import LEAD_KEY_CHANGED
from shared.db import Database
from shared.kafka import create_producer
from shared.kafka.lead_keys import KeysUnavailable, LeadKeyReader
from shared.outbox import add_events
from shared.outbox_relay import OutboxRelay
from shared.sealing import new_key, seal_event, unseal
from tests.conftest import Infra
from tests.support.events import read_topic


def ingested(lead_id: uuid.UUID) -> LeadIngested:
    payload = LeadIngestedPayload(
        source="test", email=f"{lead_id}@example.com", first_name="Ada", submitted_at=utc_now()
    )
    return LeadIngested.new(lead_id=lead_id, payload=payload, producer="test")


@pytest.fixture
async def producer(migrated: Infra) -> AsyncIterator[AIOKafkaProducer]:
    kafka = create_producer(migrated.kafka_bootstrap_servers, client_id="lead-keys-test")
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


@pytest.fixture
async def reader(migrated: Infra) -> AsyncIterator[LeadKeyReader]:
    keys = LeadKeyReader(migrated.kafka_bootstrap_servers, client_id="lead-keys-test-reader")
    await keys.start()
    try:
        yield keys
    finally:
        await keys.stop()


class TestLeadKeyReader:
    async def test_an_event_arriving_before_its_key_was_read_opens_after_catching_up(
        self, reader: LeadKeyReader, producer: AIOKafkaProducer
    ) -> None:
        event = ingested(uuid.uuid4())
        key = new_key()
        await producer.send_and_wait(LEAD_KEY_CHANGED, key=str(event.lead_id).encode(), value=key)
        # No wait for the reader: the open itself reads the topic up to where it ended just now.
        [opened] = await reader.open_events([seal_event(event, key)])
        assert opened == event

    async def test_a_tombstone_makes_the_lead_read_as_erased(
        self, reader: LeadKeyReader, producer: AIOKafkaProducer
    ) -> None:
        event = ingested(uuid.uuid4())
        key = new_key()
        lead = str(event.lead_id).encode()
        await producer.send_and_wait(LEAD_KEY_CHANGED, key=lead, value=key)
        await producer.send_and_wait(LEAD_KEY_CHANGED, key=lead, value=None)
        # A reader that had read the key but not yet the tombstone still opens the lead's events,
        # as the service's own order has them before its `lead.erased`; once caught up, it cannot.
        await reader.catch_up()
        [opened] = await reader.open_events([seal_event(event, key)])
        assert isinstance(opened, LeadIngested)
        assert (opened.payload.email, opened.payload.first_name) == (None, None)
        assert reader.erased(event.lead_id)

    async def test_a_client_that_fetches_nothing_is_replaced_after_a_failed_catch_up(
        self, migrated: Infra, producer: AIOKafkaProducer
    ) -> None:
        reader = LeadKeyReader(
            migrated.kafka_bootstrap_servers, client_id="lead-keys-test-wedged", catch_up_timeout_s=2
        )
        await reader.start()
        try:
            await reader.catch_up()
            wedged = reader._consumer
            assert wedged is not None

            async def nothing(*args: object, **kwargs: object) -> dict[object, object]:
                # A client a broker cut left on a closed transport fetched nothing, raising nothing.
                await asyncio.sleep(0.1)
                return {}

            wedged.getmany = nothing  # type: ignore[method-assign]
            await asyncio.sleep(0.7)  # the fetch in flight (500 ms at most) ends on the old method
            event = ingested(uuid.uuid4())
            key = new_key()
            await producer.send_and_wait(LEAD_KEY_CHANGED, key=str(event.lead_id).encode(), value=key)
            with pytest.raises(KeysUnavailable):
                await reader.open_events([seal_event(event, key)])
            # The failed catch-up dialled a fresh client: the next one reads the key.
            [opened] = await reader.open_events([seal_event(event, key)])
            assert opened == event
            assert reader._consumer is not wedged
        finally:
            await reader.stop()

    async def test_a_lead_never_given_a_key_reads_as_erased_not_as_an_error(
        self, reader: LeadKeyReader
    ) -> None:
        event = seal_event(ingested(uuid.uuid4()), new_key())
        [opened] = await reader.open_events([event])
        assert isinstance(opened, LeadIngested)
        assert opened.payload.email is None

    async def test_lead_erased_forgets_the_key_for_the_events_after_it(
        self, reader: LeadKeyReader, producer: AIOKafkaProducer
    ) -> None:
        event = ingested(uuid.uuid4())
        key = new_key()
        await producer.send_and_wait(LEAD_KEY_CHANGED, key=str(event.lead_id).encode(), value=key)
        erased = LeadErased.new(
            lead_id=event.lead_id,
            payload=LeadErasedPayload(reason="request", erased_at=utc_now()),
            producer="t",
        )
        before, _, after = await reader.open_events([seal_event(event, key), erased, seal_event(event, key)])
        assert before == event
        assert isinstance(after, LeadIngested)
        assert after.payload.email is None


class TestIngestKeys:
    async def test_the_relay_publishes_a_new_leads_key_before_its_event(
        self, db: Database, migrated: Infra, producer: AIOKafkaProducer, reader: LeadKeyReader
    ) -> None:
        event = ingested(uuid.uuid4())
        async with db.transaction() as session:
            await add_events(session, outbox, await sealed(session, [event]))
        relay = OutboxRelay(db=db, table=outbox, producer=producer, service="test", poll_interval_s=60)
        await relay.start()
        try:
            records = await read_topic(
                migrated.kafka_bootstrap_servers,
                "lead.ingested",
                until=lambda rs: any(r.key == str(event.lead_id).encode() for r in rs),
            )
            [wire] = [decode_event(r.value) for r in records if r.key == str(event.lead_id).encode()]
            assert isinstance(wire, LeadIngested)
            assert wire.payload.email is None
            # The key was acknowledged before the event was sent: reading up to the key topic's
            # end as of now finds it.
            [opened] = await reader.open_events([wire])
            assert opened == event
        finally:
            await relay.stop()

    async def test_a_lead_with_a_key_keeps_it_and_gets_no_second_key_record(self, db: Database) -> None:
        lead_id = uuid.uuid4()
        async with db.transaction() as session:
            first = await lead_keys(session, [lead_id])
        async with db.transaction() as session:
            again = await lead_keys(session, [lead_id, lead_id])
            sealed_email = (await sealed_fields(session, {lead_id: {"email": "ada@example.com"}}))[lead_id]
        async with db.transaction() as session:
            records = await session.scalar(
                text("SELECT count(*) FROM ingest.outbox WHERE topic = :topic AND key = :key"),
                {"topic": LEAD_KEY_CHANGED, "key": str(lead_id)},
            )
        assert again == first
        assert records == 1
        assert unseal(first[lead_id], lead_id, sealed_email) == {"email": "ada@example.com"}

    async def test_erasure_leaves_no_key_in_ingest_and_a_tombstone_on_the_topic(
        self, db: Database, migrated: Infra, producer: AIOKafkaProducer
    ) -> None:
        event = ingested(uuid.uuid4())
        async with db.transaction() as session:
            await add_events(session, outbox, await sealed(session, [event]))
        async with db.transaction() as session:
            await shred_key(session, event.lead_id)
        relay = OutboxRelay(db=db, table=outbox, producer=producer, service="test", poll_interval_s=60)
        await relay.start()
        try:
            lead = str(event.lead_id).encode()
            records = await read_topic(
                migrated.kafka_bootstrap_servers,
                LEAD_KEY_CHANGED,
                until=lambda rs: any(r.key == lead and r.value is None for r in rs),
            )
        finally:
            await relay.stop()
        # The key row the outbox kept went out empty too: no record of the key was ever published.
        assert [r.value for r in records if r.key == lead] == [None, None]

        async with db.transaction() as session:
            left = await session.scalar(
                text("SELECT count(*) FROM ingest.lead_key WHERE lead_id = :id"), {"id": event.lead_id}
            )
        assert left == 0
