"""Notices a consumer pass that has run far longer than any batch should, and says where it waits.

A consumer whose pass never returns looks healthy from outside (its task is alive, it holds its
partitions) while its lag grows. The watchdog logs such a pass with the chain of awaits it is
suspended in, so the stall can be read from the logs of the run that met it, and cancels it: the
consumer then replaces its broker client and fetches again from what it handled (a cancelled
pass's transaction rolls back; replays are absorbed by the processed_event table).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

from shared.metrics import CONSUMER_PASSES_CANCELLED

log = logging.getLogger(__name__)
T = TypeVar("T")

# Far longer than a healthy pass takes (a batch, a commit), and than a pass retrying one message
# through a database restart; a pass cancelled during a longer outage is only retried.
STUCK_AFTER_S = 60.0
CHECK_EVERY_S = 10.0
# Tasks whose chains a stuck pass's report carries at most (a service runs a few dozen).
OTHER_TASKS = 60


def awaiting(task: asyncio.Task[Any]) -> list[str]:
    """Where `task` is suspended: each coroutine of its await chain, outermost first, as
    `file:line function` (`Task.get_stack` only gives the outermost frame)."""
    chain: list[str] = []
    awaited: Any = task.get_coro()
    while isinstance(awaited, Coroutine | Generator):
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is not None:
            chain.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    if awaited is not None:
        chain.append(f"waiting on {awaited!r:.300}")
    return chain


def other_tasks(but: asyncio.Task[Any], *, limit: int = OTHER_TASKS) -> dict[str, list[str]]:
    """The await chain of each pending task of the loop but `but` and the caller, by task name."""
    this = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not but and t is not this and not t.done()]
    return {f"{t.get_name()} ({i})": awaiting(t) for i, t in enumerate(pending[:limit])}


class PassStuck(Exception):
    """The consumer's pass ran past the watchdog's limit and was cancelled."""


class PassWatch:
    """Runs the consumer's passes one at a time; `watch` cancels one stuck past the limit
    (after logging where it waits), and the pass's caller then gets `PassStuck`."""

    def __init__(self, group_id: str, *, stuck_after_s: float = STUCK_AFTER_S) -> None:
        self.group_id = group_id
        self.stuck_after_s = stuck_after_s
        self._since: float | None = None
        self._current: asyncio.Task[Any] | None = None
        self._cancelled: asyncio.Task[Any] | None = None

    async def run(self, step: Coroutine[Any, Any, T]) -> T:
        """Await `step` as the pass in hand."""
        current: asyncio.Task[T] = asyncio.create_task(step)
        self._current = current
        self._since = time.monotonic()
        try:
            return await current
        except asyncio.CancelledError:
            this = asyncio.current_task()
            if self._cancelled is current and this is not None and not this.cancelling():
                raise PassStuck(f"a pass ran past {self.stuck_after_s:g} s and was cancelled") from None
            raise
        finally:
            self._since = self._current = None

    @property
    def stuck_for(self) -> float | None:
        """Seconds the pass in hand has run, once past the limit; else None."""
        if self._since is None:
            return None
        running = time.monotonic() - self._since
        return running if running > self.stuck_after_s else None

    async def watch(self, until: asyncio.Task[Any], *, every_s: float = CHECK_EVERY_S) -> None:
        """Check the pass in hand every `every_s` until `until` (the consumer loop) ends."""
        while not until.done():
            await asyncio.wait({until}, timeout=min(every_s, self.stuck_after_s / 4))
            current, stuck_for = self._current, self.stuck_for
            if current is None or stuck_for is None or current is self._cancelled:
                continue
            log.error(
                "kafka.consumer_pass_stuck",
                extra={
                    "group": self.group_id,
                    "seconds": round(stuck_for),
                    "awaiting": awaiting(current),
                    # What the pass waits on may be another task (a TaskGroup's children, a
                    # shielded commit inside aiokafka): every other task's chain, once.
                    "other_tasks": other_tasks(current),
                },
            )
            CONSUMER_PASSES_CANCELLED.labels(self.group_id).inc()
            self._cancelled = current
            current.cancel()
