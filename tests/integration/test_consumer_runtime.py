"""The shared consumer wrapper and outbox relay against the real broker and database."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.models import processed_event
from services.ingest.models import outbox
from shared.contracts import LeadIngested, LeadIngestedPayload, utc_now
from shared.db import Database
from shared.kafka import EventConsumer, EventHandler, create_producer, ensure_topics
from shared.outbox import add_event
from shared.outbox_relay import OutboxRelay
from tests.conftest import TEST_PARTITIONS, Infra
from tests.support.events import read_topic
from tests.support.waiting import eventually, wait_until


def ingested_event(lead_id: uuid.UUID) -> LeadIngested:
    return LeadIngested.new(
        lead_id=lead_id,
        payload=LeadIngestedPayload(source="test", email=f"{lead_id}@example.com", submitted_at=utc_now()),
        producer="test",
    )


class Recorder:
    """A handler that counts calls for its own leads and can be told to fail."""

    def __init__(self, leads: set[uuid.UUID], *, fail_times: int = 0, poison: set[uuid.UUID] | None = None):
        self.leads = leads
        self.fail_times = fail_times
        self.poison = poison or set()
        self.calls: Counter[uuid.UUID] = Counter()
        self.effects: Counter[uuid.UUID] = Counter()

    async def __call__(self, session: AsyncSession, event: Any) -> None:
        if event.lead_id not in self.leads:
            return
        self.calls[event.lead_id] += 1
        if event.lead_id in self.poison:
            raise ValueError(f"cannot handle {event.lead_id}")
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("transient handler failure")
        # The effect only counts if the transaction commits.
        session.sync_session.info.setdefault("effects", []).append(event.lead_id)
        self.effects[event.lead_id] += 1


@pytest.fixture
async def producer(migrated: Infra) -> Any:
    kafka = create_producer(migrated.kafka_bootstrap_servers, client_id="test")
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


async def start_consumer(db: Database, infra: Infra, recorder: EventHandler, group: str) -> EventConsumer:
    await ensure_topics(infra.kafka_bootstrap_servers, [f"{group}.dlq"], partitions=TEST_PARTITIONS)
    consumer = EventConsumer(
        bootstrap_servers=infra.kafka_bootstrap_servers,
        group_id=group,
        handlers={"lead.ingested": recorder},
        db=db,
        processed_table=processed_event,
        max_attempts=3,
        retry_backoff_s=0.01,
        session_timeout_ms=2000,
    )
    await consumer.start()
    return consumer


async def processed_count(db: Database, group: str, event_id: uuid.UUID) -> int:
    async with db.transaction() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(processed_event)
            .where(processed_event.c.consumer == group, processed_event.c.event_id == event_id)
        )
    return int(count or 0)


class TestEventConsumer:
    async def test_redelivered_message_changes_nothing(
        self, db: Database, migrated: Infra, producer: AIOKafkaProducer
    ) -> None:
        group = f"test-{uuid.uuid4()}"
        lead = uuid.uuid4()
        event = ingested_event(lead)
        recorder = Recorder({lead})
        consumer = await start_consumer(db, migrated, recorder, group)
        try:
            for _ in range(3):  # the same bytes, as a producer retry or a replay would deliver them
                await producer.send_and_wait("lead.ingested", value=event.to_bytes(), key=event.key)

            async def three_seen() -> None:
                assert await processed_count(db, group, event.event_id) == 1
                assert recorder.calls[lead] == 1

            async def every_copy_handled() -> bool:
                return consumer.has_partitions and await consumer.lag() == 0

            await eventually(three_seen)
            await wait_until(every_copy_handled, timeout=15)
            assert recorder.calls[lead] == 1
        finally:
            await consumer.stop()
        assert recorder.effects[lead] == 1
        assert await processed_count(db, group, event.event_id) == 1

    async def test_transient_failure_is_retried_then_succeeds(
        self, db: Database, migrated: Infra, producer: AIOKafkaProducer
    ) -> None:
        group = f"test-{uuid.uuid4()}"
        lead = uuid.uuid4()
        recorder = Recorder({lead}, fail_times=2)
        consumer = await start_consumer(db, migrated, recorder, group)
        try:
            event = ingested_event(lead)
            await producer.send_and_wait("lead.ingested", value=event.to_bytes(), key=event.key)

            async def handled() -> None:
                assert recorder.effects[lead] == 1

            await eventually(handled)
        finally:
            await consumer.stop()
        assert recorder.calls[lead] == 3

    async def test_poison_messages_go_to_the_dead_letter_topic_and_the_consumer_keeps_going(
        self, db: Database, migrated: Infra, producer: AIOKafkaProducer
    ) -> None:
        group = f"test-{uuid.uuid4()}"
        poison_lead, good_lead = uuid.uuid4(), uuid.uuid4()
        recorder = Recorder({poison_lead, good_lead}, poison={poison_lead})
        consumer = await start_consumer(db, migrated, recorder, group)
        marker = str(uuid.uuid4()).encode()
        try:
            await producer.send_and_wait("lead.ingested", value=b"{not json", key=marker)
            await producer.send_and_wait(
                "lead.ingested", value=b'{"event_type": "lead.teleported"}', key=marker
            )
            poison = ingested_event(poison_lead)
            await producer.send_and_wait("lead.ingested", value=poison.to_bytes(), key=marker)
            good = ingested_event(good_lead)
            await producer.send_and_wait("lead.ingested", value=good.to_bytes(), key=marker)

            async def good_handled() -> None:
                assert recorder.effects[good_lead] == 1

            await eventually(good_handled, timeout_s=15)
        finally:
            await consumer.stop()

        # The group reads lead.ingested from the start, so other tests' poison lands here too.
        dead = await read_topic(
            migrated.kafka_bootstrap_servers,
            f"{group}.dlq",
            until=lambda records: sum(r.key == marker for r in records) >= 3,
        )
        headers = [dict(record.headers) for record in dead if record.key == marker]
        assert [h["x-error-type"] for h in headers] == [
            b"UndecodableEvent",
            b"UndecodableEvent",
            b"ValueError",
        ]
        assert b"not JSON" in headers[0]["x-error"]
        assert headers[2]["x-attempts"] == b"3"
        assert all(h["x-source-topic"] == b"lead.ingested" for h in headers)
        # Three attempts on the per-message path, plus one inside a batch when the fetch happened
        # to hand the poison over together with the good event (that batch rolled back).
        assert recorder.calls[poison_lead] in (3, 4)

    async def test_offsets_survive_a_restart(
        self, db: Database, migrated: Infra, producer: AIOKafkaProducer
    ) -> None:
        group = f"test-{uuid.uuid4()}"
        first, second = uuid.uuid4(), uuid.uuid4()
        recorder = Recorder({first, second})
        consumer = await start_consumer(db, migrated, recorder, group)
        event = ingested_event(first)
        await producer.send_and_wait("lead.ingested", value=event.to_bytes(), key=event.key)

        async def first_handled() -> None:
            assert recorder.effects[first] == 1

        await eventually(first_handled)
        await consumer.stop()

        # Wipe the idempotency table: only committed offsets can now prevent a re-run.
        async with db.transaction() as session:
            await session.execute(
                text("DELETE FROM feedback.processed_event WHERE consumer = :g"), {"g": group}
            )
        consumer = await start_consumer(db, migrated, recorder, group)
        try:
            later = ingested_event(second)
            await producer.send_and_wait("lead.ingested", value=later.to_bytes(), key=later.key)

            async def second_handled() -> None:
                assert recorder.effects[second] == 1

            await eventually(second_handled)
        finally:
            await consumer.stop()
        assert recorder.effects[first] == 1


class TestConsumerSurvives:
    """The consumer loop outlives any one failure: a service that stops consuming while its
    HTTP side stays up would lose nothing but would stop serving its purpose, silently."""

    async def test_an_error_in_the_loop_is_logged_and_the_loop_goes_on(
        self, db: Database, migrated: Infra, producer: AIOKafkaProducer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        group = f"test-{uuid.uuid4()}"
        lead = uuid.uuid4()
        recorder = Recorder({lead})
        consumer = await start_consumer(db, migrated, recorder, group)
        client = consumer._consumer
        real_getmany = client.getmany
        failures = iter([KafkaConnectionError("cut off"), RuntimeError("unexpected")])

        async def failing_then_real(*args: Any, **kwargs: Any) -> Any:
            failure = next(failures, None)
            if failure is not None:
                raise failure
            return await real_getmany(*args, **kwargs)

        monkeypatch.setattr(client, "getmany", failing_then_real)
        try:
            event = ingested_event(lead)
            await producer.send_and_wait("lead.ingested", value=event.to_bytes(), key=event.key)

            async def handled() -> None:
                assert recorder.effects[lead] == 1

            await eventually(handled, timeout_s=20)
            assert consumer.healthy
        finally:
            await consumer.stop()

    async def test_a_client_that_fetches_nothing_while_behind_is_replaced(
        self, db: Database, migrated: Infra, producer: AIOKafkaProducer
    ) -> None:
        group = f"test-{uuid.uuid4()}"
        lead = uuid.uuid4()
        recorder = Recorder({lead})
        consumer = await start_consumer(db, migrated, recorder, group)
        consumer.stall_check_s = 1.0
        try:

            async def joined() -> None:
                assert consumer.has_partitions

            await eventually(joined, timeout_s=20)
            stalled = consumer._consumer
            # A paused client fetches nothing, as a client wedged by a network cut was seen to.
            stalled.pause(*stalled.assignment())
            event = ingested_event(lead)
            await producer.send_and_wait("lead.ingested", value=event.to_bytes(), key=event.key)

            async def handled() -> None:
                assert recorder.effects[lead] == 1

            await eventually(handled, timeout_s=30)
            assert consumer._consumer is not stalled
        finally:
            await consumer.stop()

    async def test_a_client_whose_passes_keep_failing_is_replaced(
        self, db: Database, migrated: Infra, producer: AIOKafkaProducer
    ) -> None:
        group = f"test-{uuid.uuid4()}"
        lead = uuid.uuid4()
        recorder = Recorder({lead})
        consumer = await start_consumer(db, migrated, recorder, group)
        consumer.retry_backoff_s = 0.01
        try:

            async def joined() -> None:
                assert consumer.has_partitions

            await eventually(joined, timeout_s=20)
            broken = consumer._consumer

            async def closed_transport(*args: object, **kwargs: object) -> object:
                # What aiokafka on uvloop raised on every request after a broker cut.
                raise RuntimeError(
                    "unable to perform operation on <TCPTransport closed=True>; the handler is closed"
                )

            broken.getmany = closed_transport  # type: ignore[method-assign]

            async def replaced() -> None:
                assert consumer._consumer is not broken

            await eventually(replaced, timeout_s=30)
            event = ingested_event(lead)
            await producer.send_and_wait("lead.ingested", value=event.to_bytes(), key=event.key)

            async def handled() -> None:
                assert recorder.effects[lead] == 1

            await eventually(handled, timeout_s=30)
        finally:
            await consumer.stop()

    async def test_a_pass_that_hangs_is_cancelled_and_its_message_handled_by_a_fresh_client(
        self, db: Database, migrated: Infra, producer: AIOKafkaProducer
    ) -> None:
        group = f"test-{uuid.uuid4()}"
        lead = uuid.uuid4()
        recorder = Recorder({lead})
        hangs = asyncio.Event()

        async def hangs_the_first_time(session: AsyncSession, event: Any) -> None:
            if event.lead_id == lead and not hangs.is_set():
                hangs.set()
                await asyncio.Event().wait()  # what no timeout ends: the watchdog must
            await recorder(session, event)

        consumer = await start_consumer(db, migrated, hangs_the_first_time, group)
        consumer.watch.stuck_after_s = 5.0
        try:
            first_client = consumer._consumer
            event = ingested_event(lead)
            await producer.send_and_wait("lead.ingested", value=event.to_bytes(), key=event.key)

            async def handled() -> None:
                assert recorder.effects[lead] == 1

            await eventually(handled, timeout_s=40)
            assert hangs.is_set()
            assert consumer._consumer is not first_client
            assert consumer.healthy
        finally:
            await consumer.stop()


class TestOutboxRelay:
    async def test_staged_events_are_published_in_order_and_marked_sent(
        self, db: Database, migrated: Infra
    ) -> None:
        lead = uuid.uuid4()
        events = [ingested_event(lead) for _ in range(5)]
        async with db.transaction() as session:
            for event in events:
                await add_event(session, outbox, event)
        kafka = create_producer(migrated.kafka_bootstrap_servers, client_id="relay-test")
        await kafka.start()
        relay = OutboxRelay(db=db, table=outbox, producer=kafka, service="test", poll_interval_s=0.05)
        await relay.start()
        try:
            records = await read_topic(
                migrated.kafka_bootstrap_servers,
                "lead.ingested",
                until=lambda rs: sum(r.key == str(lead).encode() for r in rs) >= 5,
            )
        finally:
            await relay.stop()
            await kafka.stop()
        published = [r.value for r in records if r.key == str(lead).encode()]
        assert published == [e.to_bytes() for e in events]
        async with db.transaction() as session:
            unsent = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            )
        assert unsent == 0

    async def test_rolled_back_transaction_publishes_nothing(self, db: Database, migrated: Infra) -> None:
        lead = uuid.uuid4()

        async def failing_state_change() -> None:
            async with db.transaction() as session:
                await add_event(session, outbox, ingested_event(lead))
                raise RuntimeError("the state change failed")

        with pytest.raises(RuntimeError):
            await failing_state_change()
        async with db.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(outbox)) == 0
