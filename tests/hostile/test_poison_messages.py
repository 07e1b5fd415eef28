"""Poison messages against each consuming service's real app: every one lands in the
service's dead-letter topic with the error in its headers, and the consumer keeps going.

Sizes: the embedded tansu broker takes a 5 MB (and a 7.9 MB) record from
`shared.kafka.create_producer` (max_request_size 8 MB); the client refuses 9 MB before the
broker sees it. The dead letter keeps the first 4 MB of such a value and records its original
size in `x-original-size`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from aiokafka import ConsumerRecord
from fastapi import FastAPI
from sqlalchemy import text

from services.feedback.main import create_app as feedback_app
from services.routing.main import create_app as routing_app
from services.scoring.main import create_app as scoring_app
from shared.contracts import (
    Envelope,
    LeadIngested,
    LeadIngestedPayload,
    LeadQualified,
    LeadQualifiedPayload,
    LeadSnapshot,
    utc_now,
)
from shared.contracts.topics import consumer_group, dead_letter_topic, lane_group
from shared.db import Database
from shared.kafka import create_producer, ensure_topics
from shared.kafka.dead_letter import DLQ_VALUE_LIMIT
from tests.conftest import TEST_PARTITIONS, Infra
from tests.support.apps import running_app
from tests.support.events import read_topic
from tests.support.waiting import eventually

FIVE_MB = 5 * 1024 * 1024
MARKER = "x-poison-test"


def ingested(lead_id: uuid.UUID) -> LeadIngested:
    payload = LeadIngestedPayload(
        source="form", form_id="demo-request", email=f"{lead_id}@poison.example", submitted_at=utc_now()
    )
    return LeadIngested.new(lead_id=lead_id, payload=payload, producer="test")


def qualified(lead_id: uuid.UUID) -> LeadQualified:
    payload = LeadQualifiedPayload(
        rubric_version="2026-11-01",
        score=90.0,
        grade="A",
        reason="hand_raiser",
        sla_tier="hot",
        sla_minutes=5,
        qualified_at=utc_now(),
        lead=LeadSnapshot(email=f"{lead_id}@poison.example", source="form"),
    )
    return LeadQualified.new(lead_id=lead_id, payload=payload, producer="test")


@dataclass(frozen=True)
class Consumer:
    app: Callable[[], FastAPI]
    topic: str
    good: Callable[[uuid.UUID], Envelope]
    # A topic the service reads in one of its lanes' groups (`TOPOLOGY`'s lanes).
    lane: str | None = None


CONSUMERS = {
    "scoring": Consumer(scoring_app, "lead.ingested", ingested),
    "routing": Consumer(routing_app, "lead.qualified", qualified),
    "routing:followup": Consumer(routing_app, "lead.ingested", ingested, lane="followup"),
    "feedback": Consumer(feedback_app, "lead.ingested", ingested),
}


def poison(good: Envelope, keyless: Envelope) -> dict[str, tuple[bytes, bool, str]]:
    """name -> (value, keyed, what its x-error must say)."""
    valid = json.loads(good.to_bytes())
    unknown = {**valid, "event_type": "lead.teleported"}
    newer = {**valid, "schema_version": valid["schema_version"] + 1}
    invalid_payload = {**valid, "payload": {**valid["payload"], "email": None, "submitted_at": "soon"}}
    if good.event_type == "lead.qualified":
        invalid_payload = {**valid, "payload": {**valid["payload"], "sla_minutes": "fast", "lead": None}}
    huge = {**valid, "payload": {"padding": "x" * FIVE_MB}}
    return {
        "invalid json": (b'{"event_type": "lead.ingested", ', True, "not JSON"),
        "unknown type": (json.dumps(unknown).encode(), True, "unknown event type 'lead.teleported'"),
        "newer version": (json.dumps(newer).encode(), True, "newer than this consumer knows"),
        "5 MB": (json.dumps(huge).encode(), True, "invalid event"),
        "no key": (keyless.to_bytes(), False, "message has no key"),
        "not utf-8": (b"\xff\xfe not even utf-8", True, "not JSON"),
        "invalid payload": (json.dumps(invalid_payload).encode(), True, "invalid event"),
    }


async def processed(db: Database, service: str, group: str, event_id: uuid.UUID) -> bool:
    async with db.transaction() as session:
        found = await session.scalar(
            text(f"SELECT count(*) FROM {service}.processed_event WHERE consumer = :c AND event_id = :e"),
            {"c": group, "e": event_id},
        )
    return bool(found)


@pytest.mark.integration
@pytest.mark.parametrize("service", sorted(CONSUMERS))
async def test_poison_goes_to_the_dead_letter_topic_and_the_consumer_keeps_going(
    service: str, settings_env: Infra
) -> None:
    spec = CONSUMERS[service]
    service = service.partition(":")[0]
    bootstrap = settings_env.kafka_bootstrap_servers
    own_group = (
        consumer_group(service) if spec.lane is None else lane_group(consumer_group(service), spec.lane)
    )
    dlq = dead_letter_topic(own_group)
    await ensure_topics(bootstrap, [spec.topic, dlq], partitions=TEST_PARTITIONS)
    run = str(uuid.uuid4())
    # A group of the test's own; dead letters still go to the service's dead-letter topic.
    app_group = f"test-{service}-{run[:12]}"
    group = app_group if spec.lane is None else lane_group(app_group, spec.lane)
    good, keyless = spec.good(uuid.uuid4()), spec.good(uuid.uuid4())
    messages = poison(good, keyless)
    db = Database(settings_env.database_url, pool_size=2)
    producer = create_producer(bootstrap, client_id="poison-test")
    await producer.start()
    try:
        async with running_app(spec.app(), group=app_group):
            for name, (value, keyed, _) in messages.items():
                await producer.send_and_wait(
                    spec.topic,
                    value=value,
                    key=good.key if keyed else None,
                    headers=[(MARKER, f"{run}:{name}".encode())],
                )
            # Same key, so the same partition: the good event waits behind every keyed poison.
            await producer.send_and_wait(spec.topic, value=good.to_bytes(), key=good.key)

            async def good_event_handled() -> None:
                assert await processed(db, service, group, good.event_id)

            await eventually(good_event_handled, timeout_s=60)
    finally:
        await producer.stop()
        await db.dispose()

    def ours(records: list[ConsumerRecord[bytes, bytes]]) -> dict[str, ConsumerRecord[bytes, bytes]]:
        found = {}
        for record in records:
            tag = dict(record.headers).get(MARKER, b"").decode()
            if tag.startswith(f"{run}:"):
                found[tag.split(":", 1)[1]] = record
        return found

    dead = ours(
        await read_topic(bootstrap, dlq, until=lambda rs: len(ours(rs)) == len(messages), timeout_s=60)
    )
    assert set(dead) == set(messages)
    for name, (value, keyed, error) in messages.items():
        record = dead[name]
        headers = dict(record.headers)
        assert headers["x-error-type"] == b"UndecodableEvent", name
        assert error in headers["x-error"].decode(), (name, headers["x-error"])
        assert headers["x-source-topic"] == spec.topic.encode(), name
        assert headers["x-consumer-group"] == group.encode(), name
        assert record.key == (good.key if keyed else None), name
        if len(value) > DLQ_VALUE_LIMIT:
            assert headers["x-original-size"] == str(len(value)).encode(), name
            assert record.value == value[:DLQ_VALUE_LIMIT], name
        else:
            assert record.value == value, name
    db = Database(settings_env.database_url, pool_size=1)
    try:
        assert not await processed(db, service, group, keyless.event_id)
    finally:
        await db.dispose()
