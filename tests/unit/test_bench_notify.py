"""The notification bench's comparison and its load generator's kept-alive connections."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bench.load import open_loop
from bench.notify_latency import _per_lead_ratio, _ratio


def _phase(p50: float, p99: float, *, sent: int = 100, routing_s: float = 1.0) -> dict[str, Any]:
    return {"latency": {"p50_ms": p50, "p99_ms": p99}, "sent": sent, "cpu_s": {"routing": routing_s}}


def test_each_kind_is_the_median_of_its_phases_so_a_drift_falls_on_every_kind() -> None:
    off = [_phase(100, 200), _phase(300, 600), _phase(200, 400)]
    on = [_phase(220, 400), _phase(180, 500)]
    assert _ratio(on, off) == {"p50": 1.0, "p99": 1.12}


def test_cpu_per_lead_adds_up_every_phase_of_a_kind() -> None:
    off = [_phase(1, 1, sent=100, routing_s=1.0), _phase(1, 1, sent=300, routing_s=3.0)]
    on = [_phase(1, 1, sent=200, routing_s=3.0)]
    assert _per_lead_ratio(off, on, "routing") == 1.5
    assert _per_lead_ratio(off, on, "postgres") is None


async def test_a_connection_the_server_closed_while_idle_is_dialled_again_not_counted_as_an_error() -> None:
    """uvicorn closes a kept-alive connection idle for 5 s; at low rates each of the generator's
    connections waits about that long between posts. Here the server closes every connection
    after one answer: every post must still arrive, none counted as failed."""
    answered = 0

    async def one_answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line[15:]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        answered += 1
        body = json.dumps({"lead_id": f"lead-{answered}"}).encode()
        writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(one_answer_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    accepted: dict[str, float] = {}
    async with server:
        sent, errors = await open_loop(
            f"http://127.0.0.1:{port}/v1/forms/demo/submissions",
            rate_per_s=200,
            duration_s=0.1,
            on_accepted=accepted.__setitem__,
            connections=2,
        )
    assert (sent, errors, len(accepted)) == (20, 0, 20)
