"""The relay sends a pass's rows for a partition as one record batch: one ack to wait for, not one
per 16 KB (aiokafka keeps one request per broker in flight, with one batch per partition)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.ingest.models import outbox
from shared.contracts import LeadIngested, LeadIngestedPayload, utc_now
from shared.db import Database
from shared.kafka.producer import RELAY_BATCH_BYTES
from shared.outbox import add_events
from shared.outbox_relay import OutboxRelay
from tests.conftest import Infra
from tests.support.events import read_topic
from tests.support.relay import running_relay


@pytest.fixture
async def relay(db: Database, migrated: Infra) -> AsyncIterator[OutboxRelay]:
    """A relay with the runtime's producer settings, polling only when a commit asks it to."""
    async with running_relay(
        db,
        migrated.kafka_bootstrap_servers,
        client_id="relay-batches-test",
        producer={"max_batch_bytes": RELAY_BATCH_BYTES},
        poll_interval_s=60,
        batch_size=2000,
    ) as running:
        yield running


class TestRelayBatches:
    async def test_a_pass_of_a_lead_s_events_goes_in_order_in_one_record_batch(
        self, db: Database, migrated: Infra, relay: OutboxRelay, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        sent: list[tuple[str, int]] = []
        send_batch = relay.producer.send_batch

        async def counted(batch: Any, topic: str, *, partition: int) -> Any:
            sent.append((topic, partition))
            return await send_batch(batch, topic, partition=partition)

        monkeypatch.setattr(relay.producer, "send_batch", counted)
        lead = uuid.uuid4()
        payload = LeadIngestedPayload(source="test", email=f"{lead}@example.com", submitted_at=utc_now())
        events = [LeadIngested.new(lead_id=lead, payload=payload, producer="test") for _ in range(500)]
        async with db.transaction() as session:
            await add_events(session, outbox, events)

        records = await read_topic(
            migrated.kafka_bootstrap_servers,
            "lead.ingested",
            until=lambda rs: sum(r.key == str(lead).encode() for r in rs) >= len(events),
        )

        assert [r.value for r in records if r.key == str(lead).encode()] == [e.to_bytes() for e in events]
        # About 550 KB (1.1 KB a record, headers included) for one partition: 35 batches of
        # aiokafka's default 16 KB.
        assert len(sent) == 1
