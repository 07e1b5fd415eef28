"""Scoring's app factory."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from services.scoring import api, pages
from services.scoring.agreement import ActiveRubric
from services.scoring.consumers import build_handlers
from services.scoring.lead_cache import LeadHistories
from services.scoring.models import audit, outbox, processed_event
from services.scoring.rubric import Rubric, load_rubric
from services.scoring.settings import ScoringSettings
from services.scoring.worker import RescoreWorker
from shared.audit_api import audit_router
from shared.db import Database
from shared.runtime import ServiceRuntime, create_service_app, publish_schemas


def create_app(settings: ScoringSettings | None = None) -> FastAPI:
    settings = settings or ScoringSettings()
    # Loaded before anything starts: an invalid rubric file stops the service at boot, not per event.
    active = ActiveRubric(load_rubric(settings.rubric_path))

    def rescore_worker(db: Database) -> RescoreWorker:
        decay = settings.decay_pass_interval_s
        worker = RescoreWorker(
            db,
            active,
            interval_s=settings.rescore_interval_s,
            batch_size=settings.rescore_batch_size,
            decay_every=timedelta(seconds=decay) if decay > 0 else None,
        )
        app.state.rescore_worker = worker
        return worker

    # The consumer's lead histories: dropped whenever its partitions change hands.
    histories = LeadHistories(max_activities=settings.lead_cache_max_activities)
    runtime = ServiceRuntime(
        settings,
        outbox=outbox,
        processed=processed_event,
        handlers=build_handlers(active, histories),
        workers={"rescore_worker": rescore_worker},
        on_rebalance=histories.clear,
    )
    app = create_service_app(
        runtime,
        title="Baton scoring",
        description="Scores leads against the rubric marketing and sales signed; `lead.ingested` in, "
        "`lead.scored` and `lead.qualified` out.",
        routers=[api.router, pages.router, audit_router(audit)],
    )
    app.state.active_rubric = active
    publish_schemas(app, Rubric)
    return app
