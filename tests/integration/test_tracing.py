"""One lead's journey, form post to assignment, is one trace across HTTP and Kafka hops."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.ingest.main import create_app as create_ingest
from services.routing.main import create_app as create_routing
from services.scoring.main import create_app as create_scoring
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.apps import running_service
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


async def test_form_post_to_assignment_is_one_trace(
    spans: InMemorySpanExporter, db: Database, settings_env: Infra
) -> None:
    manager = bearer(Role.MANAGER)
    routing_app, scoring_app, ingest_app = create_routing(), create_scoring(), create_ingest()
    async with (
        running_service(routing_app, db) as routing,
        running_service(scoring_app, db) as _scoring,
        running_service(ingest_app, db) as ingest,
    ):
        rep = await routing.post(
            "/v1/reps", json={"name": "Tracy", "email": "tracy@example.com"}, headers=manager
        )
        assert rep.status_code == 201, rep.text
        form = {"id": "demo-request", "name": "Demo request", "is_hand_raiser": True}
        assert (await ingest.post("/v1/forms", json=form, headers=bearer(Role.ADMIN))).status_code in (
            200,
            201,
        )
        spans.clear()
        posted = await ingest.post(
            "/v1/forms/demo-request/submissions",
            json={"email": f"trace-{uuid.uuid4().hex[:8]}@acme.io", "company": "Acme"},
        )
        assert posted.status_code == 202, posted.text
        lead_id = posted.json()["lead_id"]

        async def assigned() -> None:
            response = await routing.get(f"/v1/leads/{lead_id}/assignment", headers=manager)
            assert response.status_code == 200

        await eventually(assigned, timeout_s=30)

    finished = spans.get_finished_spans()
    post = next(s for s in finished if s.name == "POST /v1/forms/{form_id}/submissions")
    journey = [s for s in finished if s.context.trace_id == post.context.trace_id]
    consumed = {
        (s.attributes or {}).get("messaging.consumer.group.name")
        for s in journey
        if (s.attributes or {}).get("baton.lead_id") == lead_id
    }
    # Test apps consume as groups of their own, named after their service.
    assert {group.split("-")[1] for group in consumed if group} >= {"scoring", "routing"}
