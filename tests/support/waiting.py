"""Waiting on a condition instead of sleeping and hoping it holds by then."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], object], *, timeout_s: float = 10.0) -> None:
    """Poll an async or sync assertion until it passes or the time is up."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    # Soon at first (most conditions hold within a few round trips), then every 0.1 s: a fixed
    # 0.1 s made every wait in the suite, hundreds of them, overshoot by 50 ms on average.
    interval = 0.01
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                await result
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(interval)
            interval = min(interval * 2, 0.1)


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str | None = None,
) -> None:
    """Poll a sync or async predicate until it returns true; fail the test once `timeout`
    seconds have passed without it holding (a hang then reads as the condition it waited on)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            name = what or getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"still not true after {timeout}s: {name}")
        await asyncio.sleep(interval)
