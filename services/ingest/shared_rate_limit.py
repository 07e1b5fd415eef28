"""The per-client form rate limit shared by every ingest replica, counted in PostgreSQL.

With `BATON_FORM_RATE_LIMIT_STORE=memory` each replica keeps its own token bucket
(`protection.TokenBucket`), so N replicas allow N times the limit. With `postgres` the limit is
a fixed-window counter per (client key, window) in `ingest.rate_limit_window`, and the hot path
still makes no round trip:

- A post is checked against this replica's view: the window's count as PostgreSQL last reported
  it, plus the posts this replica admitted since. Under the limit it is admitted and counted
  locally; at the limit it gets 429 with `Retry-After` until the window ends.
- Every `form_rate_limit_sync_s` (250 ms by default) the worker (`worker.RateLimitSync`) upserts
  the local counts in one statement (`INSERT ... ON CONFLICT DO UPDATE SET count = count + n
  RETURNING count`), which also refreshes the view of every client this replica saw this window.

Tolerance: a replica learns what the others admitted only at its next sync, so a client can
get past the limit by at most what it posts through the *other* replicas within one sync
interval (≈ replicas * its rate * interval; at 250 ms and a browser's pace, a handful of posts).
A replica that cannot reach PostgreSQL keeps its counts and limits on its own view (never worse
than the memory store) until the next sync succeeds.

The window's limit is the token bucket's first-minute allowance: `burst + per_minute * window/60`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, literal
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.models import RateLimitWindow

_Slot = tuple[str, float]  # (client key, window start in epoch seconds)


class SharedWindowLimit:
    """Fixed-window counts per client, admitted locally and summed across replicas in PostgreSQL."""

    def __init__(
        self,
        *,
        per_minute: float,
        burst: int,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window_s = window_s
        self.limit = max(1, int(burst + per_minute * window_s / 60.0))
        self.clock = clock
        # Wall clock, not monotonic: windows must line up across replicas.
        self._known: dict[_Slot, int] = {}
        self._pending: dict[_Slot, int] = {}

    def _window(self, now: float) -> float:
        return math.floor(now / self.window_s) * self.window_s

    def take(self, key: str) -> float:
        """Count one post: 0 when admitted, else the seconds until the window ends."""
        now = self.clock()
        slot = (key, self._window(now))
        if self._known.get(slot, 0) + self._pending.get(slot, 0) >= self.limit:
            return max(slot[1] + self.window_s - now, 0.001)
        self._pending[slot] = self._pending.get(slot, 0) + 1
        return 0.0

    def seen(self, key: str) -> int:
        """Posts this replica counts for `key` in the current window (shared total plus its own)."""
        slot = (key, self._window(self.clock()))
        return self._known.get(slot, 0) + self._pending.get(slot, 0)

    async def sync(self, session: AsyncSession) -> None:
        """Add this replica's counts to the shared ones and read back the totals, for every
        client this replica saw in the current window (delta 0 for those with no new posts)."""
        current = self._window(self.clock())
        pending, self._pending = self._pending, {}
        slots = {s: pending.get(s, 0) for s in (*self._known, *pending) if s[1] >= current}
        # Counts of ended windows are still added (a post was admitted), but need no reading back.
        slots.update({s: n for s, n in pending.items() if s[1] < current})
        self._known = {s: n for s, n in self._known.items() if s[1] >= current}
        if not slots:
            return
        rows = [
            {"client_key": key, "window_start": datetime.fromtimestamp(start, UTC), "count": n}
            for (key, start), n in sorted(slots.items())  # sorted: concurrent upserts lock in one order
        ]
        statement = insert(RateLimitWindow).values(rows)
        upsert = statement.on_conflict_do_update(
            index_elements=[RateLimitWindow.client_key, RateLimitWindow.window_start],
            set_={"count": RateLimitWindow.count + statement.excluded.count},
        ).returning(RateLimitWindow.client_key, RateLimitWindow.window_start, RateLimitWindow.count)
        try:
            result = await session.execute(upsert)
        except BaseException:
            # Not counted anywhere yet: keep them for the next sync.
            for slot, n in pending.items():
                self._pending[slot] = self._pending.get(slot, 0) + n
            raise
        for key, start, count in result.all():
            if start.timestamp() >= current:
                # Posts admitted since the swap stay in `_pending`, on top of this total.
                self._known[(key, start.timestamp())] = count


async def prune_windows(session: AsyncSession, *, window_s: float, now: datetime | None = None) -> int:
    """Delete windows that ended (a window's worth of slack for clock skew between replicas)."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=2 * window_s)
    result = await session.execute(
        delete(RateLimitWindow).where(RateLimitWindow.window_start < literal(cutoff))
    )
    return int(getattr(result, "rowcount", 0) or 0)
