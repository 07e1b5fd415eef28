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

from shared.api_docs import install_api_docs
from shared.auth import TokenVerifier
from shared.consumer_groups import build_consumers, build_pruners, consumer_checks, stop_consumers
from shared.db import Database
from shared.kafka import EventConsumer, EventHandler, create_producer
from shared.kafka.lead_keys import LeadKeyReader
from shared.kafka.producer import RELAY_BATCH_BYTES, start_when_reachable, try_start
from shared.kafka.security import diagnose_broker
from shared.logging import configure_logging
from shared.me import me_router
from shared.outbox_relay import OutboxRelay
from shared.problems import install_problem_handlers
from shared.request_metrics import RequestMetricsMiddleware
from shared.responses import NewlineJSONResponse
from shared.sealing import SESSION_KEY_RING
from shared.settings import ServiceSettings
from shared.tracing import configure_tracing

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
# A readiness probe times out after 3 s in the chart: both checks run side by side within it.
PROBE_TIMEOUT_S = 2.0
# States of these parts show in /readyz but do not take the pod out of its Service: the outbox
# absorbs a broker outage, and consuming needs no HTTP traffic.
# How often /readyz re-asks why the broker refuses the connection.
BROKER_DIAGNOSIS_INTERVAL_S = 10.0
BROKER_PARTS = frozenset({"broker", "consumer"})
WAITING_ON_BROKER = frozenset({"connecting", "unavailable", "joining group"})


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
        on_rebalance: Callable[[], None] | None = None,
    ) -> None:
        """`on_rebalance`: called whenever the consumer's partitions change hands (revoked or
        assigned), for state kept per partition."""
        self.settings = settings
        self.on_rebalance = on_rebalance
        self.worker_factories = dict(workers or {})
        self.workers: dict[str, BackgroundWorker] = {}
        self.outbox = outbox
        self.processed = processed
        self.handlers = dict(handlers or {})
        self.db: Database | None = None
        self.producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: list[EventConsumer] = []
        self.lead_keys: LeadKeyReader | None = None
        self.consume = settings.consume
        self.producer_connected = asyncio.Event()
        self._stopping = asyncio.Event()
        self._connecting: asyncio.Task[None] | None = None
        # Why the broker refused the last connection, and when that was asked (for /readyz).
        self._broker_problem: tuple[float, str | None] | None = None

    @property
    def consumer(self) -> EventConsumer | None:
        """The main group's consumer (the one whose work a clock runs on)."""
        return self.consumers[0] if self.consumers else None

    def _new_database(self) -> Database:
        """The process's connection pool, as its settings describe it."""
        s = self.settings
        return Database(
            s.database_url,
            pool_size=s.database_pool_size,
            max_overflow=s.database_max_overflow,
            pre_ping=s.database_pre_ping,
            pgbouncer=s.database_pgbouncer,
        )

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        s = self.settings
        self.db = app.state.db = self._new_database()
        self.producer = create_producer(
            s.kafka_bootstrap_servers,
            client_id=f"baton-{s.service_name}",
            security=s.kafka_security,
            max_batch_bytes=RELAY_BATCH_BYTES,
        )
        # Nothing here waits for the broker: without one the service still starts, serves its
        # API and fills its outbox, and the producer and consumer connect once it appears.
        if await try_start(self.producer):
            self.producer_connected.set()
        else:
            self._connecting = asyncio.create_task(
                start_when_reachable(
                    self.producer, connected=self.producer_connected, stopping=self._stopping
                ),
                name=f"producer-connect:{s.service_name}",
            )
        try:
            if self.outbox is not None:
                self.relay = OutboxRelay(
                    db=self.db,
                    table=self.outbox,
                    producer=self.producer,
                    service=s.service_name,
                    poll_interval_s=s.outbox_poll_interval_s,
                    batch_size=s.outbox_batch_size,
                    producer_connected=self.producer_connected,
                    listen=not s.database_pgbouncer,
                )
                await self.relay.start()
            if self.handlers and self.consume:
                if self.processed is None:
                    raise RuntimeError("a consuming service needs its processed_event table")
                # Opens what consumers read, and seals what the outbox stages (docs/erasure.md).
                self.lead_keys = LeadKeyReader(
                    s.kafka_bootstrap_servers, client_id=f"{s.consumer_group}-keys", security=s.kafka_security
                )
                await self.lead_keys.start()
                self.db.sessions.configure(info={SESSION_KEY_RING: self.lead_keys})
                self.consumers = build_consumers(
                    s,
                    self.handlers,
                    db=self.db,
                    processed=self.processed,
                    on_rebalance=self.on_rebalance,
                    lead_keys=self.lead_keys,
                )
                for consumer in self.consumers:
                    await consumer.start()
                for pruner in build_pruners(s, self.consumers, db=self.db, processed=self.processed):
                    self.workers[pruner.name] = pruner
                    await pruner.start()
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
            await self._stop_all(StopBudget(s.stop_seconds))
            log.info(f"{s.service_name}.stopped")

    async def _stop_all(self, budget: StopBudget) -> None:
        """Stop in reverse order of start, each step within its share of the shutdown budget."""
        self._stopping.set()
        if self._connecting is not None:
            await asyncio.gather(self._connecting, return_exceptions=True)
        for worker in reversed(list(self.workers.values())):
            await _bounded(worker.stop(), "worker", timeout_s=budget.share(0.15 / max(1, len(self.workers))))
        if self.consumers:
            # Commit and LeaveGroup: a member killed before it leaves holds its partitions until
            # the session timeout, and every rollout would wait that out.
            await stop_consumers(self.consumers, timeout_s=budget.share(0.4))
        if self.lead_keys is not None:
            await self.lead_keys.stop()
        if self.relay is not None:
            timeout_s = budget.share(0.75)
            await _bounded(self.relay.stop(timeout_s=timeout_s), "outbox_relay", timeout_s=timeout_s + 1)
        if self.producer is not None:
            await _bounded(self.producer.stop(), "producer", timeout_s=budget.share(0.9))
        if self.db is not None:
            await _bounded(self.db.dispose(), "database", timeout_s=max(budget.remaining, 1.0))

    async def check_ready(self) -> dict[str, str]:
        """Each part's state. Only the database and the process's own tasks decide readiness
        (`READINESS_BLOCKERS`): without a broker the API still takes work into the outbox."""
        database, broker = await asyncio.gather(self._database_state(), self._broker_state())
        checks = {"database": database, "broker": broker}
        if self.relay is not None:
            checks["outbox_relay"] = "ok" if self.relay.healthy else "stopped"
        checks.update(consumer_checks(self.consumers))
        for name, worker in self.workers.items():
            checks[name] = "ok" if worker.healthy else "stopped"
        return checks

    async def _database_state(self) -> str:
        try:
            assert self.db is not None
            await asyncio.wait_for(self.db.ping(), PROBE_TIMEOUT_S)
        except Exception as exc:
            # The reason goes to the log only: /readyz answers anyone who reaches the port.
            log.warning("runtime.database_unavailable", extra={"error": repr(exc)})
            return "unavailable"
        return "ok"

    async def _broker_state(self) -> str:
        if self.producer is None or not self.producer_connected.is_set():
            problem = await self._broker_diagnosis()
            # A certificate or a login the broker refuses is not fixed by waiting: that makes the
            # service unready, saying which setting to check; a broker merely away does not.
            return f"misconfigured: {problem}" if problem is not None else "connecting"
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), PROBE_TIMEOUT_S)
        except Exception as exc:
            log.warning("runtime.broker_unavailable", extra={"error": repr(exc)})
            return "unavailable"
        return "ok"

    async def _broker_diagnosis(self) -> str | None:
        """Why the broker refuses this service's TLS or SASL settings (None when the cause is
        not the configuration), asked at most every `BROKER_DIAGNOSIS_INTERVAL_S`."""
        now = time.monotonic()
        if self._broker_problem is None or now - self._broker_problem[0] > BROKER_DIAGNOSIS_INTERVAL_S:
            s = self.settings
            problem = await diagnose_broker(
                s.kafka_bootstrap_servers, s.kafka_security, timeout_s=PROBE_TIMEOUT_S
            )
            misconfigured = problem is not None and ("TLS handshake failed" in problem or "login" in problem)
            if misconfigured:
                log.error("runtime.broker_refuses_settings", extra={"reason": problem})
            self._broker_problem = (now, problem if misconfigured else None)
        return self._broker_problem[1]


def readiness(checks: Mapping[str, str]) -> tuple[str, int]:
    """`/readyz`'s status and code: "ready" (200) when every part is ok, "degraded" (200) when
    only the broker or the consumer's link to it is missing, "unavailable" (503) otherwise."""
    if all(state == "ok" for state in checks.values()):
        return "ready", 200
    for name, state in checks.items():
        part = name.partition(":")[0]
        if state != "ok" and not (part in BROKER_PARTS and state in WAITING_ON_BROKER):
            return "unavailable", 503
    return "degraded", 200


class StopBudget:
    """The seconds left for the lifespan's stops; each step takes a share of what is left."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    @property
    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def share(self, fraction: float) -> float:
        # At least a moment, so a step past the deadline still gets its chance to finish cleanly.
        return max(0.5, self.remaining * fraction)


async def _bounded(action: Awaitable[None], step: str, *, timeout_s: float = 15.0) -> None:
    """Shutdown steps never hang the process: what a step leaves undone is replayed later."""
    try:
        await asyncio.wait_for(action, timeout_s)
    except Exception as exc:
        log.warning("runtime.stop_incomplete", extra={"step": step, "error": repr(exc)})


def process_app(runtime: ServiceRuntime, *, process: str, title: str, description: str) -> FastAPI:
    """What the app of every Baton process starts with: logging and tracing as `process`,
    problem details, request metrics and the operations routes (health, readiness, metrics)."""
    s = runtime.settings
    configure_logging(service=process, level=s.log_level, fmt=s.log_format)
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=runtime.lifespan,
        default_response_class=NewlineJSONResponse,
        # A service's install_api_docs serves these three itself, without a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = s
    app.state.runtime = runtime
    install_problem_handlers(app)
    # FastAPI itself opens a server span per request (continuing an incoming traceparent) once
    # OpenTelemetry is installed; Baton adds the Kafka hops (shared.outbox, shared.kafka).
    configure_tracing(process)
    app.add_middleware(RequestMetricsMiddleware)
    app.include_router(_operations_router(runtime))
    return app


def create_service_app(
    runtime: ServiceRuntime, *, title: str, description: str, routers: list[APIRouter]
) -> FastAPI:
    """The FastAPI app every service builds: logging, problem details, health, metrics, and
    `GET /v1/me` unless one of `routers` answers it already."""
    s = runtime.settings
    app = process_app(runtime, process=s.service_name, title=title, description=description)
    app.state.token_verifier = TokenVerifier(s)
    install_api_docs(app)
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

    @router.get(
        "/readyz",
        summary="Readiness: the service can accept work (database reachable, its tasks running); "
        "the broker's state is reported, and a missing broker only makes it `degraded`",
    )
    async def readyz() -> NewlineJSONResponse:
        checks = await runtime.check_ready()
        status, code = readiness(checks)
        return NewlineJSONResponse({"status": status, "checks": checks}, status_code=code)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    db: Database = request.app.state.db
    async with db.transaction() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
