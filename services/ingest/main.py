"""Ingest's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.ingest import api
from services.ingest.models import outbox
from services.ingest.schemas import FormSubmissionCreate
from services.ingest.settings import IngestSettings
from shared.runtime import ServiceRuntime, create_service_app, publish_schemas


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    runtime = ServiceRuntime(settings, outbox=outbox)
    app = create_service_app(
        runtime,
        title="Baton ingest",
        description="Web forms, ad-platform webhooks and activity events in; `lead.ingested` out.",
        routers=[api.router],
    )
    # The body is parsed by hand (JSON or form-encoded), so publish its schema explicitly.
    publish_schemas(app, FormSubmissionCreate)
    return app
