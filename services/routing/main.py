"""Routing's app factory."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.routing import api, api_me, api_webhooks, crm_clients, pages
from services.routing.consumers import build_handlers
from services.routing.models import audit, outbox, processed_event
from services.routing.rule_versions import ActiveRules
from services.routing.rules import RuleSet, load_rule_set
from services.routing.settings import RoutingSettings
from services.routing.worker import NotificationWorker, RoutingWorker
from services.routing.worker_outbound import CrmSyncWorker, WebhookDeliveryWorker
from shared.audit_api import audit_router
from shared.db import Database
from shared.runtime import ServiceRuntime, WorkerFactory, create_service_app, publish_schemas
from shared.worker_app import WorkerRuntime, create_worker_app


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

    workers: dict[str, WorkerFactory] = {"sla_worker": sla_worker}
    if settings.routing_senders == "inline":
        workers.update(sender_workers(settings))
    runtime = ServiceRuntime(
        settings,
        outbox=outbox,
        processed=processed_event,
        handlers=build_handlers(rules, hot_score_jump=settings.hot_again_score_jump),
        workers=workers,
    )
    app = create_service_app(
        runtime,
        title="Baton routing",
        description="Qualified leads in, fair assignments with SLA clocks out (`lead.assigned`).",
        routers=[api_me.router, api.router, api_webhooks.router, pages.router, audit_router(audit)],
    )
    app.state.active_rules = rules
    publish_schemas(app, RuleSet)
    return app


def create_senders_app(settings: RoutingSettings | None = None) -> FastAPI:
    """Routing's senders alone (`baton serve routing --role senders`): the three send loops,
    `/healthz`, `/readyz` and `/metrics`; no consumer, no broker, no public API. They lease their
    rows, so any number of these processes (and inline senders) can run side by side."""
    settings = settings or RoutingSettings()
    return create_worker_app(
        WorkerRuntime(settings, workers=sender_workers(settings), role="senders"),
        title="Baton routing senders",
        description="Sends what routing wrote to its outboxes: rep notifications (Slack, email), "
        "outbound webhooks and the CRM owner sync.",
    )


def sender_workers(settings: RoutingSettings) -> dict[str, WorkerFactory]:
    """The notifier, the webhook sender and (with a CRM configured) the CRM sync."""
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

    return {"notifier": notifier, **outbound_workers(settings)}


def outbound_workers(settings: RoutingSettings) -> dict[str, WorkerFactory]:
    """The webhook sender always runs; the CRM sync only with a CRM configured."""

    def webhook_sender(db: Database) -> WebhookDeliveryWorker:
        return WebhookDeliveryWorker(
            db,
            interval_s=settings.webhook_interval_s,
            timeout_s=settings.webhook_timeout_s,
            max_attempts=settings.webhook_max_attempts,
            backoff_s=settings.webhook_backoff_s,
        )

    workers: dict[str, WorkerFactory] = {"webhook_sender": webhook_sender}
    crm, base_url, token = settings.crm_provider, settings.crm_base_url, settings.crm_token
    if crm is None or base_url is None or token is None:
        return workers

    def crm_syncer(db: Database) -> CrmSyncWorker:
        client = httpx.AsyncClient(timeout=settings.crm_timeout_s)
        connector: crm_clients.CrmConnector
        if crm == "hubspot":
            connector = crm_clients.HubSpotConnector(
                client, base_url=base_url, token=token.get_secret_value()
            )
        else:
            connector = crm_clients.SalesforceConnector(
                client,
                base_url=base_url,
                token=token.get_secret_value(),
                api_version=settings.crm_salesforce_api_version,
            )
        return CrmSyncWorker(
            db,
            connector=connector,
            client=client,
            interval_s=settings.crm_interval_s,
            max_attempts=settings.crm_max_attempts,
            backoff_s=settings.crm_backoff_s,
        )

    workers["crm_sync"] = crm_syncer
    return workers
