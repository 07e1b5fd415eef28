"""Routing's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.routing import api, rule_versions
from services.routing.consumers import HANDLERS
from services.routing.models import outbox, processed_event
from services.routing.rules import RuleSet, load_rule_set
from services.routing.settings import RoutingSettings
from services.routing.worker import RoutingWorker
from shared.db import Database
from shared.runtime import ServiceRuntime, create_service_app, publish_schemas


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    settings = settings or RoutingSettings()
    # Loaded before anything starts: an invalid rules file stops the service at boot, not per lead.
    rule_versions.configure(load_rule_set(settings.routing_rules_path))

    def sla_worker(db: Database) -> RoutingWorker:
        return RoutingWorker(
            db,
            interval_s=settings.worker_interval_s,
            batch_size=settings.worker_batch_size,
            max_reassignments=settings.sla_max_reassignments,
        )

    runtime = ServiceRuntime(
        settings,
        outbox=outbox,
        processed=processed_event,
        handlers=HANDLERS,
        workers={"sla_worker": sla_worker},
    )
    app = create_service_app(
        runtime,
        title="Baton routing",
        description="Qualified leads in, fair assignments with SLA clocks out (`lead.assigned`).",
        routers=[api.router],
    )
    publish_schemas(app, RuleSet)
    return app
