"""The scoring process's background loop: re-scoring every known lead after an activation,
and periodically so that stored scores follow engagement decay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from services.scoring import agreement
from services.scoring.agreement import ActiveRubric
from shared.contracts import utc_now
from shared.db import Database

log = logging.getLogger(__name__)


class RescoreWorker:
    """Works running re-score runs batch by batch, each batch in its own transaction. The run
    row is locked per batch (SKIP LOCKED), so every replica can run one of these safely."""

    def __init__(
        self,
        db: Database,
        active: ActiveRubric,
        *,
        interval_s: float,
        batch_size: int,
        decay_every: timedelta | None = None,
    ) -> None:
        self.db = db
        self.active = active
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.decay_every = decay_every
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scoring-rescore")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run_once(self) -> int:
        """Batches until no run has work left; returns the leads re-scored."""
        total = 0
        if self.decay_every is not None:
            async with self.db.transaction() as session:
                await agreement.start_decay_pass(
                    session, active=self.active, every=self.decay_every, now=utc_now()
                )
        while not self._stopping.is_set():
            async with self.db.transaction() as session:
                done = await agreement.rescore_batch(session, active=self.active, batch_size=self.batch_size)
            total += done
            if done == 0:
                break
        return total

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception:
                # The failed batch rolled back and its cursor did not move: it is retried next tick.
                log.exception("scoring.rescore_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
