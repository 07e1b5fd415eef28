"""Ingest's app factory."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from services.ingest import api, api_embed, api_imports, api_leads, api_quarantine, api_webhooks
from services.ingest.cache import linkedin_form_cache
from services.ingest.cors import FormCors, form_origins_from
from services.ingest.dependencies import Protection
from services.ingest.errors import RateLimited
from services.ingest.models import audit, outbox
from services.ingest.schemas import ActivityCreate, FormSubmissionCreate
from services.ingest.settings import IngestSettings
from services.ingest.shared_rate_limit import SharedWindowLimit
from services.ingest.worker import RateLimitSync, SubmissionWriter
from shared.audit_api import audit_router
from shared.problems import problem_response
from shared.runtime import ServiceRuntime, WorkerFactory, create_service_app, publish_schemas


async def _rate_limited(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    response = problem_response(
        request, status=exc.status, title=exc.title, slug=exc.slug, detail=exc.detail, **exc.extensions
    )
    response.headers["Retry-After"] = str(exc.extensions.get("retry_after", "1"))
    return response


def _match_first(app: FastAPI, router: APIRouter) -> None:
    """Have the app try `router`'s routes before any other: a request is matched against each
    route in turn, and the form post, ingest's hottest route, otherwise paid a match of every
    documentation and operations route first. No path of theirs overlaps ingest's `/v1`."""
    routes = app.router.routes
    ours = [route for route in routes if getattr(route, "original_router", None) is router]
    if not ours:  # a FastAPI that copies an included router's routes into the app's
        paths = {getattr(route, "path", None) for route in router.routes}
        ours = [route for route in routes if getattr(route, "path", None) in paths]
    routes[:] = ours + [route for route in routes if route not in ours]


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    protection = Protection(settings)
    workers: dict[str, WorkerFactory] = {
        SubmissionWriter.name: partial(SubmissionWriter, forms=protection.forms)
    }
    if isinstance(protection.per_client, SharedWindowLimit):
        workers[RateLimitSync.name] = partial(
            RateLimitSync, limit=protection.per_client, interval_s=settings.form_rate_limit_sync_s
        )
    runtime = ServiceRuntime(settings, outbox=outbox, workers=workers)
    app = create_service_app(
        runtime,
        title="Baton ingest",
        description="Web forms, ad-platform webhooks and activity events in; `lead.ingested`, "
        "`activity.recorded` and `lead.erased` out.",
        routers=[
            api.router,
            api_embed.router,
            api_leads.router,
            api_webhooks.router,
            api_quarantine.router,
            api_imports.router,
            audit_router(audit),
        ],
    )
    _match_first(app, api.router)
    app.state.protection = protection
    app.add_middleware(FormCors, form_origins=form_origins_from(app.state))
    app.state.linkedin_forms = linkedin_form_cache(ttl_s=settings.linkedin_form_cache_ttl_s)
    app.add_exception_handler(RateLimited, _rate_limited)
    # Bodies are parsed by hand (raw bytes for signatures, form encodings), so publish their schemas.
    publish_schemas(app, FormSubmissionCreate, ActivityCreate)
    return app
