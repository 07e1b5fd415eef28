"""Routing's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.routing import api, rule_versions
from services.routing.consumers import HANDLERS
from services.routing.models import outbox, processed_event
from services.routing.rules import RuleSet, load_rule_set
from services.routing.settings import RoutingSettings
from services.routing.worker import NotificationWorker, RoutingWorker
from shared.db import Database
from shared.runtime import ServiceRuntime, WorkerFactory, create_service_app, publish_schemas


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    settings = settings or RoutingSettings()
    # Loaded before anything starts: an invalid rules file stops the service at boot, not per lead.
    rule_versions.configure(load_rule_set(settings.routing_rules_path))

    def sla_worker(db: Database) -> RoutingWorker:
        return RoutingWorker(
            db,
            interval_s=settings.worker_interval_s,
            batch_size=settings.worker_batch_size,
            policy=settings.sla_policy,
        )

    workers: dict[str, WorkerFactory] = {"sla_worker": sla_worker}
    webhook = settings.notification_webhook_url
    if webhook is not None:
        url = webhook.get_secret_value()

        def notifier(db: Database) -> NotificationWorker:
            return NotificationWorker(
                db,
                url=url,
                interval_s=settings.notification_interval_s,
                timeout_s=settings.notification_timeout_s,
                max_attempts=settings.notification_max_attempts,
                backoff_s=settings.notification_backoff_s,
            )

        workers["notifier"] = notifier

    runtime = ServiceRuntime(
        settings,
        outbox=outbox,
        processed=processed_event,
        handlers=HANDLERS,
        workers=workers,
    )
    app = create_service_app(
        runtime,
        title="Baton routing",
        description="Qualified leads in, fair assignments with SLA clocks out (`lead.assigned`).",
        routers=[api.router],
    )
    publish_schemas(app, RuleSet)
    return app
