"""Background loops a service runs beside its consumer (SLA timers, re-scoring)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import utc_now
from shared.db import Database

log = logging.getLogger(__name__)

Claimed = TypeVar("Claimed")
Outcome = TypeVar("Outcome")


class PeriodicWorker(ABC):
    """Runs `run_once` every `interval_s` until stopped.

    A failed pass is logged and retried on the next tick: each pass works in its own
    transactions, so a failure rolls back and loses nothing.
    """

    name: str = "worker"

    def __init__(self, *, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def run_once(self) -> object:
        """One pass over whatever work is due."""

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception(f"{self.name}.pass_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)


class LeasedSendWorker(PeriodicWorker, Generic[Claimed, Outcome]):
    """Sends rows that are due to the outside world, at least once, never inside a transaction.

    Each round claims up to `batch_size` due rows under a lease in a short transaction of its
    own (a replica that dies mid-send leaves them to be claimed again once the lease runs out),
    sends them with no transaction open, and records each outcome. Rows go out side by side,
    recorded together; with `one_at_a_time` they go out in turn, each outcome recorded before the
    next send, for outside systems that ration requests and whose answers must not be lost
    (a record a CRM created).
    """

    batch_size: int = 50
    one_at_a_time: bool = False
    # Sends in flight at once, of a batch. httpx's connection pool does bookkeeping over every
    # connection it holds on each request: 50 side by side cost ~3.4 ms of CPU per local POST,
    # 8 ~1.8 ms (docs/senders.md). More throughput against a slow receiver comes from more
    # sender processes, which the leases let share the rows.
    max_in_flight: int = 8
    # An idle pass (nothing due) refreshes the gauges no oftener: it is then the one statement
    # the sender runs besides its claim, several times a second.
    idle_count_every_s: float = 10.0

    def __init__(self, db: Database, *, interval_s: float) -> None:
        super().__init__(interval_s=interval_s)
        self.db = db
        self._counted_at: float | None = None

    @abstractmethod
    async def claim(self, session: AsyncSession, *, now: datetime) -> Sequence[Claimed]:
        """Take up to `batch_size` due rows under this worker's lease."""

    @abstractmethod
    async def send(self, claimed: Claimed) -> Outcome:
        """Deliver one row; failures are outcomes, not exceptions."""

    @abstractmethod
    async def record(self, session: AsyncSession, claimed: Claimed, outcome: Outcome) -> bool:
        """Store the outcome (done, retry later, given up); True when the row is done."""

    async def record_all(self, session: AsyncSession, sent: Sequence[tuple[Claimed, Outcome]]) -> int:
        """Store a round's outcomes; how many rows are done. One `record` each unless a worker
        stores them together (one statement for the round costs the database far less)."""
        return sum([await self.record(session, claimed, outcome) for claimed, outcome in sent])

    def failed(self, claimed: Claimed, error: Exception) -> Outcome:
        """The outcome of a send that raised instead of returning one (a bug, or a library's
        surprise): by default the error goes up and the round fails. A worker that can record it
        as a failed attempt overrides this, so one bad row neither fails its round nor makes
        the round's other rows go out again once their lease runs out."""
        raise error

    async def _send_within(self, in_flight: asyncio.Semaphore, row: Claimed) -> Outcome:
        async with in_flight:
            try:
                return await self.send(row)
            except Exception as error:
                log.exception("worker.send_raised", extra={"worker": self.name})
                return self.failed(row, error)

    async def count_pending(self, session: AsyncSession) -> None:
        """Refresh the gauges of what is still waiting: after a pass that sent, and every
        `idle_count_every_s` while idle."""

    async def run_once(self) -> int:
        """One pass; returns how many rows were done."""
        done, claims = 0, 0
        while not self.stopping:
            async with self.db.transaction() as session:
                claimed = await self.claim(session, now=utc_now())
            if not claimed:
                break
            claims += 1
            if self.one_at_a_time:
                for row in claimed:
                    outcome = await self.send(row)
                    async with self.db.transaction() as session:
                        done += await self.record(session, row, outcome)
            else:
                in_flight = asyncio.Semaphore(self.max_in_flight)
                outcomes = await asyncio.gather(*(self._send_within(in_flight, row) for row in claimed))
                async with self.db.transaction() as session:
                    done += await self.record_all(session, list(zip(claimed, outcomes, strict=True)))
            if len(claimed) < self.batch_size:
                break
        now = time.monotonic()
        if claims or self._counted_at is None or now - self._counted_at >= self.idle_count_every_s:
            self._counted_at = now
            async with self.db.transaction() as session:
                await self.count_pending(session)
        return done
