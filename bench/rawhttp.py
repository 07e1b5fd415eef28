"""A minimal keep-alive HTTP/1.1 load client on asyncio streams.

httpx spends about a millisecond of CPU per request, so on a 2-core machine it, not the server,
set the ceiling of a throughput run. This client only writes prepared request bytes and reads
`Content-Length` bodies: enough for the JSON APIs measured here, tens of microseconds a request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Request = Callable[[int], bytes]


@dataclass
class Outcome:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def post(path: str, body: bytes, *, content_type: str = "application/json", headers: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n{headers}\r\n"
    ).encode() + body


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


async def closed_loop(
    port: int, request: Request, *, connections: int, duration_s: float, keep_bodies: bool = False
) -> Outcome:
    """`connections` clients posting back to back for `duration_s` (what `wrk -c` does)."""
    outcome = Outcome()
    counter = iter(range(10**12))
    pool = [await Connection.open(port) for _ in range(connections)]
    deadline = time.perf_counter() + duration_s

    async def client(conn: Connection) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, body = await conn.exchange(request(next(counter)))
            outcome.latencies_s.append(time.perf_counter() - started)
            outcome.requests += 1
            outcome.errors += status >= 400
            if keep_bodies:
                outcome.bodies.append(body)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(client(conn) for conn in pool))
    finally:
        for conn in pool:
            conn.close()
    outcome.seconds = time.perf_counter() - started
    return outcome


async def open_loop(port: int, request: Request, *, rate_per_s: float, duration_s: float) -> Outcome:
    """Requests sent on a fixed schedule whatever the answers (no coordinated omission): each
    latency counts from the scheduled send time, and a connection is opened when all are busy."""
    outcome = Outcome()
    idle: list[Connection] = []
    total = int(rate_per_s * duration_s)

    async def one(i: int, scheduled: float) -> None:
        conn = idle.pop() if idle else await Connection.open(port)
        try:
            status, _ = await conn.exchange(request(i))
        except (OSError, asyncio.IncompleteReadError):
            outcome.errors += 1
            return
        outcome.latencies_s.append(time.perf_counter() - scheduled)
        outcome.requests += 1
        outcome.errors += status >= 400
        idle.append(conn)

    start = time.perf_counter()
    tasks = []
    for i in range(total):
        scheduled = start + i / rate_per_s
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    outcome.seconds = time.perf_counter() - start
    for conn in idle:
        conn.close()
    return outcome
