"""Scoring's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.scoring import api
from services.scoring.agreement import ActiveRubric
from services.scoring.consumers import build_handlers
from services.scoring.models import outbox, processed_event
from services.scoring.rubric import Rubric, load_rubric
from services.scoring.settings import ScoringSettings
from services.scoring.worker import RescoreWorker
from shared.runtime import ServiceRuntime, create_service_app, publish_schemas


def create_app(settings: ScoringSettings | None = None) -> FastAPI:
    settings = settings or ScoringSettings()
    # Loaded before anything starts: an invalid rubric file stops the service at boot, not per event.
    active = ActiveRubric(load_rubric(settings.rubric_path))
    runtime = ServiceRuntime(
        settings, outbox=outbox, processed=processed_event, handlers=build_handlers(active)
    )
    app = create_service_app(
        runtime,
        title="Baton scoring",
        description="Scores leads against the rubric marketing and sales signed; `lead.ingested` in, "
        "`lead.scored` and `lead.qualified` out.",
        routers=[api.router],
    )
    app.state.active_rubric = active
    publish_schemas(app, Rubric)
    runtime_lifespan = app.router.lifespan_context

    # ServiceRuntime has no hook for extra workers, so the re-score worker wraps its lifespan.
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(app):
            assert runtime.db is not None
            worker = RescoreWorker(
                runtime.db,
                active,
                interval_s=settings.rescore_interval_s,
                batch_size=settings.rescore_batch_size,
            )
            app.state.rescore_worker = worker
            await worker.start()
            try:
                yield
            finally:
                await worker.stop()

    app.router.lifespan_context = lifespan
    return app
