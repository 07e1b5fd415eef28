"""Every service answers the operations endpoints: liveness, readiness and metrics."""

from __future__ import annotations

import importlib

import pytest

from baton.services import SERVICES
from shared.db import Database
from tests.conftest import Infra
from tests.support.apps import running_app
from tests.support.waiting import eventually

SHARED_METRICS = (
    "baton_http_requests_total",
    "baton_http_request_duration_seconds",
    "baton_events_consumed_total",
    "baton_consumer_lag_messages",
    "baton_outbox_published_total",
    "baton_outbox_oldest_unsent_age_seconds",
)


@pytest.mark.parametrize("service", SERVICES)
async def test_health_readiness_and_metrics(service: str, db: Database, settings_env: Infra) -> None:
    app = importlib.import_module(f"services.{service}.main").create_app()
    async with running_app(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}

        async def ready() -> None:
            response = await client.get("/readyz")
            assert response.status_code == 200, response.text
            assert set(response.json()["checks"].values()) == {"ok"}

        await eventually(ready, timeout_s=20)
        metrics = (await client.get("/metrics")).text
    for name in SHARED_METRICS:
        assert f"# TYPE {name.removesuffix('_total')}" in metrics, name
    if service == "routing":
        for name in ("baton_routing_decision_seconds", "baton_sla_timers_pending", "baton_sla_breaches"):
            assert f"# TYPE {name}" in metrics, name
