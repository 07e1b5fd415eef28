"""Background loops a service runs beside its consumer (SLA timers, re-scoring)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod

log = logging.getLogger(__name__)


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
