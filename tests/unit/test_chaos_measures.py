"""The chaos run's own instruments: the recovery time and the network-cut proxy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

import pytest

from baton.embedded import free_port
from bench.netcut import CuttableLink
from bench.reconcile import Observed, recovery_s


def observed(latency_by_send_time: Mapping[float, float | None]) -> Observed:
    """Leads sent at the given times, assigned after the given latency (None: never)."""
    seen = Observed()
    for i, (sent, latency) in enumerate(latency_by_send_time.items()):
        seen.sent[f"lead-{i}"] = sent
        if latency is not None:
            seen.arrivals[f"lead-{i}"] = sent + latency
    return seen


class TestRecoveryTime:
    def test_latency_under_the_threshold_from_the_fault_end_is_no_recovery_time(self) -> None:
        seen = observed({100 + i * 0.1: 0.05 for i in range(100)})
        assert recovery_s(seen, since=100, until=110, threshold_s=0.2) == 0.0

    def test_recovery_starts_at_the_first_bin_after_which_every_bin_is_healthy(self) -> None:
        backlog = {100 + i * 0.1: 3.0 - i * 0.05 for i in range(50)}  # draining: 3 s down to 0.5 s
        after = {105 + i * 0.1: 0.05 for i in range(50)}
        seen = observed({**backlog, **after})
        assert recovery_s(seen, since=100, until=110, threshold_s=0.2) == 6.0

    def test_one_slow_lead_in_a_bin_is_not_an_outage(self) -> None:
        times = {100 + i * 0.1: 0.05 for i in range(100)}
        times[104.05] = 5.0
        assert recovery_s(observed(times), since=100, until=110, threshold_s=0.2) == 0.0

    def test_a_lead_never_assigned_keeps_the_window_unrecovered(self) -> None:
        times: dict[float, float | None] = {100 + i * 0.1: 0.05 for i in range(100)}
        times.update({109.0 + i * 0.1: None for i in range(10)})
        assert recovery_s(observed(times), since=100, until=110, threshold_s=0.2) is None

    def test_no_accepted_post_in_the_window_means_no_figure(self) -> None:
        assert recovery_s(observed({50.0: 0.1}), since=100, until=110, threshold_s=0.2) is None


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
    writer.close()


async def round_trip(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(payload)), 5)
    finally:
        writer.close()


class TestCuttableLink:
    async def test_cut_resets_open_connections_refuses_new_ones_and_heals(self) -> None:
        upstream = await asyncio.start_server(echo, "127.0.0.1", 0)
        link = CuttableLink(free_port(), upstream.sockets[0].getsockname()[1])
        await link.listen()
        try:
            assert await round_trip(link.listen_port, b"hello") == b"hello"
            reader, writer = await asyncio.open_connection("127.0.0.1", link.listen_port)
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"

            await link.cut()
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
                await asyncio.wait_for(reader.readexactly(1), 5)
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", link.listen_port)

            await link.listen()
            assert await round_trip(link.listen_port, b"again") == b"again"
            writer.close()
        finally:
            await link.cut()
            upstream.close()
            await upstream.wait_closed()
