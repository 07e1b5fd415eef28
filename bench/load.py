"""Load generators: closed-loop throughput and open-loop fixed-rate offered load."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from bench.rawhttp import Connection, post

Body = Callable[[int], dict[str, object]]


def lead_body(i: int) -> dict[str, object]:
    return {
        "email": f"bench-{uuid.uuid4().hex[:12]}@bench.example",
        "first_name": "Bench",
        "company": f"Company {i % 97}",
        "job_title": "VP Engineering" if i % 3 == 0 else "Engineer",
        "company_size": 50 + i % 1000,
        "country": "GB",
    }


@dataclass
class ThroughputResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def closed_loop(
    url: str, *, connections: int, duration_s: float, body: Body = lead_body
) -> ThroughputResult:
    """`connections` workers posting back to back for `duration_s` (what wrk -c does)."""
    result = ThroughputResult()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + duration_s
        counter = iter(range(10**9))

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(url, json=body(next(counter)))
                result.latencies_s.append(time.perf_counter() - started)
                if response.status_code >= 400:
                    result.errors += 1
                result.requests += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        result.seconds = time.perf_counter() - started
    return result


async def _exchange(conn: Connection | None, port: int, request: bytes) -> tuple[Connection, int, bytes]:
    """Send `request` on `conn` (a new connection if None) and read the answer. A kept-alive
    connection the server closed while idle (uvicorn's keep-alive is 5 s, and at 25 posts/s
    each of 128 connections waits about that long between posts) fails before the server reads
    the request: that one is sent again on a new connection, not counted as an error. A new
    connection that fails is closed and the error raised."""
    if conn is not None:
        try:
            return (conn, *await conn.exchange(request))
        except (OSError, asyncio.IncompleteReadError):
            conn.close()
    conn = await Connection.open(port)
    try:
        return (conn, *await conn.exchange(request))
    except (OSError, asyncio.IncompleteReadError):
        conn.close()
        raise


async def open_loop(
    url: str,
    *,
    rate_per_s: float,
    duration_s: float,
    on_accepted: Callable[[str, float], None],
    connections: int = 128,
) -> tuple[int, int]:
    """Send on a fixed schedule regardless of responses (no coordinated omission).

    A fixed set of `connections` senders takes each request at its scheduled time, so at most
    that many requests are in flight, and a request that waits for a free sender is still timed
    from its *scheduled* time. The senders speak HTTP/1.1 through `bench.rawhttp` (tens of
    microseconds a request): httpx took ~6 ms of CPU a post, a fifth of a 2-core machine at
    100 posts/s, so the generator, not Baton, set the ceiling.
    Calls `on_accepted(lead_id, scheduled_send_time)` for every 202; returns (sent, errors).
    """
    target = urlsplit(url)
    if target.port is None:
        raise ValueError(f"{url}: the load generator needs an explicit port")
    port, path = target.port, target.path
    interval = 1 / rate_per_s
    total = int(rate_per_s * duration_s)
    errors = 0
    schedule: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def sender() -> None:
        nonlocal errors
        conn: Connection | None = None
        while (item := await schedule.get()) is not None:
            i, scheduled = item
            request = post(path, json.dumps(lead_body(i)).encode())
            try:
                conn, status, body = await _exchange(conn, port, request)
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                conn = None
                continue
            if status == 202:
                on_accepted(json.loads(body)["lead_id"], scheduled)
            else:
                errors += 1
        if conn is not None:
            conn.close()

    senders = [asyncio.create_task(sender()) for _ in range(connections)]
    start = time.perf_counter()
    for i in range(total):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        schedule.put_nowait((i, scheduled))
    for _ in senders:
        schedule.put_nowait(None)
    await asyncio.gather(*senders)
    return total, errors
