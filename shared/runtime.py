"""What every service process runs: database, producer, outbox relay, consumer, HTTP basics.

`ServiceRuntime` starts everything in the app's lifespan (nothing connects at import time)
and stops it in reverse order: consumer first, then the relay drains the outbox, then the
producer and the database.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.api_docs import install_api_docs
from shared.auth import TokenVerifier
from shared.db import Database
from shared.kafka import EventConsumer, EventHandler, create_producer
from shared.logging import configure_logging
from shared.me import me_router
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS
from shared.outbox import OutboxRelay
from shared.problems import install_problem_handlers
from shared.responses import NewlineJSONResponse
from shared.settings import ServiceSettings
from shared.tracing import configure_tracing

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]


class BackgroundWorker(Protocol):
    """A loop a service runs beside its consumer (SLA timers, re-scoring)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    @property
    def healthy(self) -> bool: ...


WorkerFactory = Callable[[Database], BackgroundWorker]


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        outbox: Table | None,
        processed: Table | None = None,
        handlers: Mapping[str, EventHandler] | None = None,
        workers: Mapping[str, WorkerFactory] | None = None,
    ) -> None:
        self.settings = settings
        self.worker_factories = dict(workers or {})
        self.workers: dict[str, BackgroundWorker] = {}
        self.outbox = outbox
        self.processed = processed
        self.handlers = dict(handlers or {})
        self.db: Database | None = None
        self.producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        self.consumer: EventConsumer | None = None
        self.consume = settings.consume

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        s = self.settings
        self.db = Database(s.database_url, pool_size=s.database_pool_size, pre_ping=s.database_pre_ping)
        app.state.db = self.db
        self.producer = create_producer(
            s.kafka_bootstrap_servers, client_id=f"baton-{s.service_name}", security=s.kafka_security
        )
        await self.producer.start()
        try:
            if self.outbox is not None:
                self.relay = OutboxRelay(
                    db=self.db,
                    table=self.outbox,
                    producer=self.producer,
                    service=s.service_name,
                    poll_interval_s=s.outbox_poll_interval_s,
                    batch_size=s.outbox_batch_size,
                )
                await self.relay.start()
            if self.handlers and self.consume:
                if self.processed is None:
                    raise RuntimeError("a consuming service needs its processed_event table")
                self.consumer = EventConsumer(
                    bootstrap_servers=s.kafka_bootstrap_servers,
                    group_id=s.consumer_group,
                    dead_letter_to=s.dead_letter_topic,
                    handlers=self.handlers,
                    db=self.db,
                    processed_table=self.processed,
                    max_attempts=s.consumer_max_attempts,
                    retry_backoff_s=s.consumer_retry_backoff_s,
                    session_timeout_ms=s.consumer_session_timeout_ms,
                    fetch_max_wait_ms=s.consumer_fetch_max_wait_ms,
                    security=s.kafka_security,
                )
                await self.consumer.start()
            for name, factory in self.worker_factories.items():
                self.workers[name] = worker = factory(self.db)
                await worker.start()
            # What start-up built (modules, the app, rubrics, rule sets) lives as long as the
            # process: moved out of the collector's generations, it is no longer walked by every
            # full collection, which otherwise paused a busy consumer for ~100 ms every few batches.
            gc.freeze()
            log.info(f"{s.service_name}.started")
            yield
        finally:
            for worker in reversed(list(self.workers.values())):
                await _bounded(worker.stop(), "worker")
            if self.consumer is not None:
                await self.consumer.stop()
            if self.relay is not None:
                await _bounded(self.relay.stop(), "outbox_relay", timeout_s=20)
            await _bounded(self.producer.stop(), "producer")
            await self.db.dispose()
            log.info(f"{s.service_name}.stopped")

    async def check_ready(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            assert self.db is not None
            await asyncio.wait_for(self.db.ping(), 2)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {exc!r}"
        try:
            assert self.producer is not None
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), 2)
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"unavailable: {exc!r}"
        if self.relay is not None:
            checks["outbox_relay"] = "ok" if self.relay.healthy else "stopped"
        if self.consumer is not None:
            stuck_for = self.consumer.watch.stuck_for
            if not self.consumer.healthy:
                checks["consumer"] = "stopped"
            elif stuck_for is not None:
                checks["consumer"] = f"stuck: one pass has run for {stuck_for:.0f} s"
            else:
                checks["consumer"] = "ok" if self.consumer.has_partitions else "joining group"
        for name, worker in self.workers.items():
            checks[name] = "ok" if worker.healthy else "stopped"
        return checks


async def _bounded(action: Awaitable[None], step: str, *, timeout_s: float = 15.0) -> None:
    """Shutdown steps never hang the process: what a step leaves undone is replayed later."""
    try:
        await asyncio.wait_for(action, timeout_s)
    except Exception as exc:
        log.warning("runtime.stop_incomplete", extra={"step": step, "error": repr(exc)})


def create_service_app(
    runtime: ServiceRuntime, *, title: str, description: str, routers: list[APIRouter]
) -> FastAPI:
    """The FastAPI app every service builds: logging, problem details, health, metrics, and
    `GET /v1/me` unless one of `routers` answers it already."""
    s = runtime.settings
    configure_logging(service=s.service_name, level=s.log_level, fmt=s.log_format)
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=runtime.lifespan,
        default_response_class=NewlineJSONResponse,
        # install_api_docs serves these three itself, without a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = s
    app.state.runtime = runtime
    app.state.token_verifier = TokenVerifier(s)
    install_problem_handlers(app)
    install_api_docs(app)
    # FastAPI itself opens a server span per request (continuing an incoming traceparent) once
    # OpenTelemetry is installed; Baton adds the Kafka hops (shared.outbox, shared.kafka).
    configure_tracing(s.service_name)
    app.add_middleware(RequestMetricsMiddleware)
    app.include_router(_operations_router(runtime))
    for router in routers:
        app.include_router(router)
    me = me_router(routers)
    if me is not None:
        app.include_router(me)
    return app


def publish_schemas(app: FastAPI, *models: type[BaseModel]) -> None:
    """Add models to the OpenAPI components (for bodies a route parses by hand)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(schema.pop("$defs", {}))
                components[model.__name__] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _operations_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process serves requests")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: database and broker reachable, workers running")
    async def readyz() -> NewlineJSONResponse:
        checks = await runtime.check_ready()
        ready = all(v == "ok" for v in checks.values())
        return NewlineJSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class RequestMetricsMiddleware:
    """Counts requests by route template (not raw path, which would explode label cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Label children by their labels: `labels()` takes a lock and builds a key every call.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._latencies: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope["method"]
            counter = self._counters.get((method, template, status))
            if counter is None:
                counter = self._counters[method, template, status] = HTTP_REQUESTS.labels(
                    method, template, str(status)
                )
            counter.inc()
            latency = self._latencies.get((method, template))
            if latency is None:
                latency = self._latencies[method, template] = HTTP_LATENCY.labels(method, template)
            latency.observe(time.perf_counter() - started)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    db: Database = request.app.state.db
    async with db.transaction() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
