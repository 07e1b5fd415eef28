"""Scoring's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.scoring import api
from services.scoring.consumers import build_handlers
from services.scoring.models import outbox, processed_event
from services.scoring.rubric import Rubric, load_rubric
from services.scoring.settings import ScoringSettings
from shared.runtime import ServiceRuntime, create_service_app, publish_schemas


def create_app(settings: ScoringSettings | None = None) -> FastAPI:
    settings = settings or ScoringSettings()
    # Loaded before anything starts: an invalid rubric stops the service at boot, not per event.
    rubric = load_rubric(settings.rubric_path)
    runtime = ServiceRuntime(
        settings, outbox=outbox, processed=processed_event, handlers=build_handlers(rubric)
    )
    app = create_service_app(
        runtime,
        title="Baton scoring",
        description="Scores leads against the shared rubric; `lead.ingested` in, "
        "`lead.scored` and `lead.qualified` out.",
        routers=[api.router],
    )
    app.state.rubric = rubric
    publish_schemas(app, Rubric)
    return app
