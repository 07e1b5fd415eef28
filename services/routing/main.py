"""Routing's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.routing import api
from services.routing.consumers import HANDLERS
from services.routing.models import outbox, processed_event
from services.routing.settings import RoutingSettings
from services.routing.worker import RoutingWorker
from shared.runtime import ServiceRuntime, create_service_app


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    settings = settings or RoutingSettings()
    runtime = ServiceRuntime(settings, outbox=outbox, processed=processed_event, handlers=HANDLERS)
    app = create_service_app(
        runtime,
        title="Baton routing",
        description="Qualified leads in, fair assignments with SLA clocks out (`lead.assigned`).",
        routers=[api.router],
    )
    runtime_lifespan = app.router.lifespan_context

    # ServiceRuntime has no hook for extra workers, so the SLA worker wraps its lifespan:
    # started once the database is up, stopped before the consumer and relay.
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(app):
            assert runtime.db is not None
            worker = RoutingWorker(
                runtime.db,
                interval_s=settings.worker_interval_s,
                batch_size=settings.worker_batch_size,
                max_reassignments=settings.sla_max_reassignments,
            )
            app.state.routing_worker = worker
            await worker.start()
            try:
                yield
            finally:
                await worker.stop()

    app.router.lifespan_context = lifespan
    return app
