"""Feedback's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.feedback import api, api_agreement, pages
from services.feedback.consumers import build_handlers
from services.feedback.models import audit, outbox, processed_event
from services.feedback.settings import FeedbackSettings
from services.feedback.worker import DriftWorker
from shared.audit_api import audit_router
from shared.db import Database
from shared.runtime import ServiceRuntime, create_service_app


def create_app(settings: FeedbackSettings | None = None) -> FastAPI:
    settings = settings or FeedbackSettings()
    config = settings

    def drift_worker(db: Database) -> DriftWorker:
        return DriftWorker(db, interval_s=config.drift_check_interval_s, min_leads=config.drift_min_leads)

    runtime = ServiceRuntime(
        settings,
        outbox=outbox,
        processed=processed_event,
        handlers=build_handlers(),
        workers={"drift_worker": drift_worker} if settings.drift_check_interval_s > 0 else None,
    )
    return create_service_app(
        runtime,
        title="Baton feedback",
        description="Closed-loop reporting: one funnel both teams trust, and both sides of the SLA.",
        routers=[api.router, api_agreement.router, pages.router, audit_router(audit)],
    )
