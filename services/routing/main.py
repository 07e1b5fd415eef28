"""Routing's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.routing import api
from services.routing.consumers import build_handlers
from services.routing.models import outbox, processed_event
from services.routing.rule_versions import ActiveRules
from services.routing.rules import RuleSet, load_rule_set
from services.routing.settings import RoutingSettings
from services.routing.worker import NotificationWorker, RoutingWorker
from shared.db import Database
from shared.runtime import ServiceRuntime, WorkerFactory, create_service_app, publish_schemas


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    settings = settings or RoutingSettings()
    # Loaded before anything starts: an invalid rules file stops the service at boot, not per lead.
    rules = ActiveRules(load_rule_set(settings.routing_rules_path))

    def sla_worker(db: Database) -> RoutingWorker:
        return RoutingWorker(
            db,
            rules,
            interval_s=settings.worker_interval_s,
            batch_size=settings.worker_batch_size,
            policy=settings.sla_policy,
        )

    webhook = settings.notification_webhook_url

    # Always on: reps' own Slack webhooks need no team setting (what no channel can carry is
    # recorded as `unsent`).
    def notifier(db: Database) -> NotificationWorker:
        return NotificationWorker(
            db,
            url=webhook.get_secret_value() if webhook is not None else None,
            interval_s=settings.notification_interval_s,
            timeout_s=settings.notification_timeout_s,
            max_attempts=settings.notification_max_attempts,
            backoff_s=settings.notification_backoff_s,
            smtp=settings.smtp,
            public_url=settings.public_url,
        )

    workers: dict[str, WorkerFactory] = {"sla_worker": sla_worker, "notifier": notifier}

    runtime = ServiceRuntime(
        settings,
        outbox=outbox,
        processed=processed_event,
        handlers=build_handlers(rules),
        workers=workers,
    )
    app = create_service_app(
        runtime,
        title="Baton routing",
        description="Qualified leads in, fair assignments with SLA clocks out (`lead.assigned`).",
        routers=[api.router],
    )
    app.state.active_rules = rules
    publish_schemas(app, RuleSet)
    return app
