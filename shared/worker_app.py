"""A process that runs only a service's background loops: its database and workers, with
`/healthz`, `/readyz` and `/metrics`; no broker, no consumer, no public API.

What runs beside an assignment path shares its core. Loops that only read rows the service
wrote and send them elsewhere (routing's senders) can run here instead, in as many processes
as their leases allow, while the service's own processes leave them out.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shared.runtime import (
    ServiceRuntime,
    StopBudget,
    WorkerFactory,
    process_app,
)
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


class WorkerRuntime(ServiceRuntime):
    """`ServiceRuntime` without the producer, relay and consumers: the database and `workers`.
    Readiness is the database and each worker's task; there is no broker to report."""

    def __init__(self, settings: ServiceSettings, *, workers: Mapping[str, WorkerFactory], role: str) -> None:
        super().__init__(settings, outbox=None, workers=workers)
        self.consume = False
        self.role = role

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        s = self.settings
        self.db = app.state.db = self._new_database()
        try:
            for name, factory in self.worker_factories.items():
                self.workers[name] = worker = factory(self.db)
                await worker.start()
            gc.freeze()
            log.info(f"{s.service_name}.{self.role}_started", extra={"workers": sorted(self.workers)})
            yield
        finally:
            await self._stop_all(StopBudget(s.stop_seconds))
            log.info(f"{s.service_name}.{self.role}_stopped")

    async def check_ready(self) -> dict[str, str]:
        checks = {"database": await self._database_state()}
        for name, worker in self.workers.items():
            checks[name] = "ok" if worker.healthy else "stopped"
        return checks


def create_worker_app(runtime: WorkerRuntime, *, title: str, description: str) -> FastAPI:
    """The app of a worker process: logging (as `<service>-<role>`), problem details and the
    operations routes, nothing else."""
    s = runtime.settings
    return process_app(
        runtime, process=f"{s.service_name}-{runtime.role}", title=title, description=description
    )
