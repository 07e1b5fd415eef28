"""Feedback's background loop: checking the funnel for drift from the signed plan."""

from __future__ import annotations

from services.feedback import agreement
from shared.contracts import utc_now
from shared.db import Database
from shared.workers import PeriodicWorker


class DriftWorker(PeriodicWorker):
    """Every interval, one drift check in its own transaction. Replicas may all run it: the
    open proposal is locked while it is checked, and the database admits only one."""

    name = "feedback.drift"

    def __init__(self, db: Database, *, interval_s: float, min_leads: int) -> None:
        super().__init__(interval_s=interval_s)
        self.db = db
        self.min_leads = min_leads

    async def run_once(self) -> object:
        async with self.db.transaction() as session:
            return await agreement.check_drift(session, min_leads=self.min_leads, now=utc_now())
