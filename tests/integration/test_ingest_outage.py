"""Never lose what was accepted: with the broker down, form posts are still accepted into the
outbox, and every one of them is published once the broker is back.

The session's shared broker serves other tests, so this one runs a private broker it may stop.
It is frozen (SIGSTOP) rather than killed: the embedded broker keeps topics in memory, and a
restarted, empty one would race the relay's reconnection to recreate them.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import text

from baton.embedded import EmbeddedBroker, free_port
from baton.launcher import all_topics
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from shared.contracts import decode_event
from shared.db import Database
from shared.kafka import ensure_topics
from tests.conftest import Infra
from tests.support.events import read_topic
from tests.support.ingest import configure_form, ingest_client

POSTS = 1000


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(free_port(), log_path=tmp_path / "tansu.log")
    broker.start()
    try:
        yield broker
    finally:
        if broker.process is not None:
            broker.process.send_signal(signal.SIGCONT)
        broker.stop()


async def test_posts_accepted_while_the_broker_is_down_all_arrive_when_it_returns(
    private_broker: EmbeddedBroker, db: Database, settings_env: Infra
) -> None:
    bootstrap = private_broker.bootstrap_servers
    await ensure_topics(bootstrap, all_topics(), partitions=3)
    settings = IngestSettings(kafka_bootstrap_servers=bootstrap)
    async with ingest_client(create_app(settings), client=("127.0.0.1", 1)) as http:
        await configure_form(http, "outage")
        broker_process = private_broker.process
        assert broker_process is not None
        broker_process.send_signal(signal.SIGSTOP)
        answers = await asyncio.gather(
            *(
                http.post("/v1/forms/outage/submissions", json={"email": f"lead-{i}@outage.example"})
                for i in range(POSTS)
            )
        )
        assert {a.status_code for a in answers} == {202}
        accepted = {a.json()["event_id"] for a in answers}
        async with db.transaction() as session:
            unsent = await session.scalar(
                text("SELECT count(*) FROM ingest.outbox WHERE sent_at IS NULL AND topic = 'lead.ingested'")
            )
        assert unsent == POSTS
        broker_process.send_signal(signal.SIGCONT)

        def all_arrived(records: list[ConsumerRecord[bytes, bytes]]) -> bool:
            return accepted <= {str(decode_event(r.value).event_id) for r in records}

        records = await read_topic(bootstrap, "lead.ingested", until=all_arrived, timeout_s=90)
    published = [str(decode_event(r.value).event_id) for r in records]
    assert set(published) == accepted
