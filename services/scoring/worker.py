"""The scoring process's background loop: re-scoring every known lead after an activation,
and periodically so that stored scores follow engagement decay."""

from __future__ import annotations

from datetime import timedelta

from services.scoring import agreement
from services.scoring.agreement import ActiveRubric
from shared.contracts import utc_now
from shared.db import Database
from shared.workers import PeriodicWorker


class RescoreWorker(PeriodicWorker):
    """Works running re-score runs batch by batch, each batch in its own transaction. The run
    row is locked per batch (SKIP LOCKED), so every replica can run one of these safely."""

    name = "scoring.rescore"

    def __init__(
        self,
        db: Database,
        active: ActiveRubric,
        *,
        interval_s: float,
        batch_size: int,
        decay_every: timedelta | None = None,
        first_decay_after: timedelta | None = None,
    ) -> None:
        super().__init__(interval_s=interval_s)
        self.db = db
        self.active = active
        self.batch_size = batch_size
        self.decay_every = decay_every
        # The first decay pass waits a full period after start-up by default: a restart (or a
        # rolling deploy of many replicas) must not re-score every lead at once.
        wait = first_decay_after if first_decay_after is not None else decay_every
        self._first_decay_at = utc_now() + (wait or timedelta(0))

    async def run_once(self) -> int:
        """Batches until no run has work left; returns the leads re-scored."""
        total = 0
        if self.decay_every is not None and utc_now() >= self._first_decay_at:
            async with self.db.transaction() as session:
                await agreement.start_decay_pass(
                    session, active=self.active, every=self.decay_every, now=utc_now()
                )
        while not self.stopping:
            async with self.db.transaction() as session:
                done = await agreement.rescore_batch(session, active=self.active, batch_size=self.batch_size)
            total += done
            if done == 0:
                break
        return total
