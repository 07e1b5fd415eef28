"""`SharedWindowLimit` before any sync: a fixed window per client, counted in memory."""

from __future__ import annotations

from services.ingest.shared_rate_limit import SharedWindowLimit


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_window_allows_the_burst_plus_a_windows_refill_then_waits_for_its_end() -> None:
    clock = Clock(1_000_020.0)  # partway into a 60 s window
    limit = SharedWindowLimit(per_minute=6, burst=2, window_s=60, clock=clock)
    assert limit.limit == 8
    assert [limit.take("a") for _ in range(8)] == [0.0] * 8
    wait = limit.take("a")
    window_end = (clock.now // 60 + 1) * 60
    assert wait == window_end - clock.now
    assert limit.take("b") == 0.0  # another client has its own count
    assert limit.seen("a") == 8


def test_a_new_window_starts_from_zero() -> None:
    clock = Clock(600.0)
    limit = SharedWindowLimit(per_minute=0, burst=1, window_s=60, clock=clock)
    assert limit.take("a") == 0.0
    assert limit.take("a") > 0
    clock.now += 60
    assert limit.take("a") == 0.0
