"""The consumer's watchdog: a pass stuck past its limit is logged with where it waits, and
cancelled; the loop that ran it gets `PassStuck`, and an outer cancellation stays one."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shared.kafka.watchdog import PassStuck, PassWatch, awaiting
from tests.support.waiting import wait_until


async def _inner(gate: asyncio.Event) -> str:
    await gate.wait()
    return "done"


async def _outer(gate: asyncio.Event) -> str:
    return await _inner(gate)


async def test_awaiting_names_every_coroutine_of_the_chain() -> None:
    gate = asyncio.Event()
    task = asyncio.create_task(_outer(gate))
    await asyncio.sleep(0)
    chain = awaiting(task)
    gate.set()
    await task
    assert [line.rsplit(" ", 1)[-1] for line in chain[:3]] == ["_outer", "_inner", "wait"]


async def test_a_stuck_pass_is_logged_and_cancelled_and_a_quick_one_is_left_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = PassWatch("group", stuck_after_s=0.1)
    loop_ended = asyncio.Event()

    outcomes: list[str] = []

    async def consumer_loop() -> list[str]:
        outcomes.append(await watch.run(_outer(done_gate)))
        try:
            await watch.run(_outer(asyncio.Event()))  # never set: stuck
        except PassStuck:
            outcomes.append("stuck")
        outcomes.append(await watch.run(_outer(done_gate)))
        await loop_ended.wait()
        return outcomes

    done_gate = asyncio.Event()
    done_gate.set()
    with caplog.at_level(logging.ERROR, logger="shared.kafka.watchdog"):
        loop = asyncio.create_task(consumer_loop())
        watchdog = asyncio.create_task(watch.watch(loop, every_s=0.02))
        await wait_until(lambda: len(outcomes) == 3, timeout=5, what="the three passes ran")
        assert watch.stuck_for is None
        loop_ended.set()
        assert await loop == ["done", "stuck", "done"]
        await asyncio.wait_for(watchdog, 1)
    reports = [r for r in caplog.records if r.getMessage() == "kafka.consumer_pass_stuck"]
    assert len(reports) == 1
    assert any("_inner" in frame for frame in reports[0].awaiting)  # type: ignore[attr-defined]
    others = reports[0].other_tasks  # type: ignore[attr-defined]
    assert any(any("consumer_loop" in frame for frame in chain) for chain in others.values())


async def test_cancelling_the_loop_is_not_mistaken_for_a_stuck_pass() -> None:
    watch = PassWatch("group", stuck_after_s=60)
    in_hand = asyncio.Event()

    async def a_pass() -> str:
        in_hand.set()
        return await _outer(asyncio.Event())

    loop = asyncio.create_task(watch.run(a_pass()))
    # Cancelled only once the pass is in hand: cancelled before, the test would prove nothing.
    await in_hand.wait()
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
