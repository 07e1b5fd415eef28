"""Routing's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.routing import api
from services.routing.consumers import HANDLERS
from services.routing.models import outbox, processed_event
from services.routing.settings import RoutingSettings
from shared.runtime import ServiceRuntime, create_service_app


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    settings = settings or RoutingSettings()
    runtime = ServiceRuntime(settings, outbox=outbox, processed=processed_event, handlers=HANDLERS)
    return create_service_app(
        runtime,
        title="Baton routing",
        description="Qualified leads in, fair assignments with SLA clocks out (`lead.assigned`).",
        routers=[api.router],
    )
