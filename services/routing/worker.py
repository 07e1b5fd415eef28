"""The routing process's background loop: SLA timers and the fallback queue, in every replica."""

from __future__ import annotations

from services.routing import service, sla
from services.routing.metrics import SLA_TIMERS_PENDING
from services.routing.repository import SlaTimerRepository
from shared.contracts import utc_now
from shared.db import Database
from shared.workers import PeriodicWorker


class RoutingWorker(PeriodicWorker):
    """Every `interval_s`: fire due SLA timers, then retry leads waiting in the fallback queue
    (a rep's working hours may have begun or a cap been freed). Replicas share the work
    through row locks, so running one per replica is safe."""

    name = "routing.worker"

    def __init__(self, db: Database, *, interval_s: float, batch_size: int, max_reassignments: int) -> None:
        super().__init__(interval_s=interval_s)
        self.db = db
        self.batch_size = batch_size
        self.max_reassignments = max_reassignments

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
            SLA_TIMERS_PENDING.set(await SlaTimerRepository(session).count_pending())
        return breaches, assigned
