"""The routing process's background loop: SLA timers and the fallback queue, in every replica."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.routing import service, sla
from shared.contracts import utc_now
from shared.db import Database

log = logging.getLogger(__name__)


class RoutingWorker:
    """Every `interval_s`: fire due SLA timers, then retry leads waiting in the fallback queue
    (a rep's working hours may have begun or a cap been freed). Replicas share the work
    through row locks, so running one per replica is safe."""

    def __init__(self, db: Database, *, interval_s: float, batch_size: int, max_reassignments: int) -> None:
        self.db = db
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.max_reassignments = max_reassignments
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="routing-worker")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run_once(self) -> tuple[int, int]:
        """One pass; returns (breaches fired, queued leads assigned)."""
        breaches = 0
        while True:
            async with self.db.transaction() as session:
                fired, breached = await sla.fire_due_sla_timers(
                    session, now=utc_now(), limit=self.batch_size, max_reassignments=self.max_reassignments
                )
            breaches += breached
            if fired < self.batch_size:
                break
        async with self.db.transaction() as session:
            assigned = await service.retry_fallback_queue(session)
        return breaches, assigned

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception:
                # Nothing is lost: the pass rolled back, its timers stay due and are retried next tick.
                log.exception("routing.worker_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
