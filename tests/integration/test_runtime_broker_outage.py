"""Readiness means "can accept work": a service without its broker stays in its Service and
keeps taking work into its outbox, and a service started before its broker comes up and
connects once the broker appears.

Each test runs a private broker it may freeze or start late (the session's shared broker
serves other tests). Freezing (SIGSTOP) rather than killing keeps the embedded broker's
in-memory topics.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import ConsumerRecord

from baton.embedded import EmbeddedBroker, free_port
from baton.launcher import all_topics
from services.ingest.main import create_app as create_ingest
from services.ingest.settings import IngestSettings
from services.scoring.main import create_app as create_scoring
from services.scoring.settings import ScoringSettings
from shared.consumer_groups import consumer_checks
from shared.contracts import decode_event
from shared.kafka import ensure_topics
from tests.conftest import Infra
from tests.support.apps import caught_up
from tests.support.events import read_topic
from tests.support.ingest import configure_form, ingest_client
from tests.support.waiting import eventually

FORMS = 50


@pytest.fixture
def broker_port() -> int:
    return free_port()


@pytest.fixture
def late_broker(tmp_path: Path, broker_port: int) -> Iterator[EmbeddedBroker]:
    """A broker on `broker_port`, started only when the test says so; thawed and stopped after."""
    broker = EmbeddedBroker(broker_port, log_path=tmp_path / "tansu.log")
    try:
        yield broker
    finally:
        if broker.process is not None:
            broker.process.send_signal(signal.SIGCONT)
        broker.stop()


async def _readiness(http: httpx.AsyncClient) -> tuple[int, dict[str, object]]:
    response = await http.get("/readyz")
    body: dict[str, object] = response.json()
    return response.status_code, body


async def _post_forms(http: httpx.AsyncClient, form_id: str, count: int) -> set[str]:
    accepted = set()
    for i in range(count):
        answer = await http.post(
            f"/v1/forms/{form_id}/submissions", json={"email": f"lead-{i}@{form_id}.example"}
        )
        assert answer.status_code == 202, answer.text
        accepted.add(answer.json()["event_id"])
    return accepted


async def test_ingest_stays_ready_and_takes_forms_while_its_broker_is_frozen(
    late_broker: EmbeddedBroker, settings_env: Infra
) -> None:
    late_broker.start()
    await ensure_topics(late_broker.bootstrap_servers, all_topics(), partitions=3)
    app = create_ingest(IngestSettings(kafka_bootstrap_servers=late_broker.bootstrap_servers))
    async with ingest_client(app, client=("127.0.0.1", 1)) as http:
        await configure_form(http, "frozen")

        async def ready() -> None:
            assert await _readiness(http) == (200, {"status": "ready", "checks": _all_ok(app)})

        await eventually(ready, timeout_s=20)
        assert late_broker.process is not None
        late_broker.process.send_signal(signal.SIGSTOP)

        await _post_forms(http, "frozen", FORMS)
        code, body = await _readiness(http)
        assert code == 200
        assert body["status"] == "degraded"
        checks = body["checks"]
        assert isinstance(checks, dict)
        assert checks["broker"] == "unavailable"
        assert checks["database"] == "ok"
        # The reason goes to the log, never to whoever reaches the port.
        assert set(checks.values()) == {"ok", "unavailable"}
        late_broker.process.send_signal(signal.SIGCONT)


async def test_a_service_started_without_a_broker_comes_up_and_connects_when_it_appears(
    late_broker: EmbeddedBroker, broker_port: int, settings_env: Infra
) -> None:
    bootstrap = f"127.0.0.1:{broker_port}"
    ingest = create_ingest(IngestSettings(kafka_bootstrap_servers=bootstrap))
    # A group of the test's own starts at the earliest offsets of the new broker's topics.
    scoring = create_scoring(
        ScoringSettings(
            kafka_bootstrap_servers=bootstrap, consumer_group_id=f"test-late-{uuid.uuid4().hex[:8]}"
        )
    )
    async with (
        ingest_client(ingest, client=("127.0.0.1", 1)) as http,
        scoring.router.lifespan_context(scoring),
    ):
        scoring_http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=scoring), base_url="http://scoring"
        )
        for client in (http, scoring_http):
            code, body = await _readiness(client)
            assert code == 200, body
            assert body["status"] == "degraded"
        assert (await _readiness(scoring_http))[1]["checks"] == {
            **_all_ok(scoring),
            "broker": "connecting",
            "consumer": "connecting",
        }
        await configure_form(http, "late")
        accepted = await _post_forms(http, "late", 3)

        late_broker.start()
        await ensure_topics(bootstrap, all_topics(), partitions=3)

        def all_arrived(records: list[ConsumerRecord[bytes, bytes]]) -> bool:
            return accepted <= {str(decode_event(r.value).event_id) for r in records}

        await read_topic(bootstrap, "lead.ingested", until=all_arrived, timeout_s=60)
        # Scoring joined its group once the broker appeared and consumed what ingest published.
        await caught_up(scoring, timeout_s=60)

        async def scoring_ready() -> None:
            assert await _readiness(scoring_http) == (200, {"status": "ready", "checks": _all_ok(scoring)})

        await eventually(scoring_ready, timeout_s=30)
        await scoring_http.aclose()


def _all_ok(app: object) -> dict[str, str]:
    """Every part the app's runtime reports, each ok."""
    runtime = app.state.runtime  # type: ignore[attr-defined]
    parts = ["database", "broker"]
    parts += ["outbox_relay"] if runtime.relay is not None else []
    parts += list(consumer_checks(runtime.consumers))
    parts += list(runtime.workers)
    return dict.fromkeys(parts, "ok")
