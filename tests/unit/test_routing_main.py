"""Routing's app factories: where the senders (notifier, webhook sender, CRM sync) run."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import SecretStr

from services.routing.main import create_app, create_senders_app
from services.routing.settings import RoutingSettings

SENDERS = {"notifier", "webhook_sender", "crm_sync"}


def settings(senders: Literal["inline", "separate"] = "inline") -> RoutingSettings:
    return RoutingSettings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        kafka_bootstrap_servers="127.0.0.1:1",
        jwt_secret="unit-test-secret-" + "y" * 32,
        log_format="text",
        routing_senders=senders,
        crm_provider="hubspot",
        crm_base_url="https://api.hubapi.com",
        crm_token=SecretStr("pat-na1-unit-test-token"),
    )


def workers(app: Any) -> set[str]:
    return set(app.state.runtime.worker_factories)


class TestWhereTheSendersRun:
    def test_inline_routing_runs_the_senders_beside_its_sla_worker(self) -> None:
        assert workers(create_app(settings())) == {"sla_worker", *SENDERS}

    def test_separate_routing_leaves_the_senders_out(self) -> None:
        app = create_app(settings("separate"))
        assert workers(app) == {"sla_worker"}
        assert app.state.runtime.handlers

    async def test_the_senders_process_runs_only_the_senders_and_the_operations_routes(self) -> None:
        app = create_senders_app(settings("separate"))
        assert workers(app) == SENDERS
        runtime = app.state.runtime
        assert not runtime.handlers
        assert runtime.outbox is None
        assert not runtime.consume
        # The lifespan is not started: no database is touched by these two routes.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            assert "baton_routing_notifications_pending" in (await client.get("/metrics")).text
            for public in ("/v1/me", "/v1/reps", "/v1/webhooks", "/docs", "/openapi.json"):
                assert (await client.get(public)).status_code == 404, public
