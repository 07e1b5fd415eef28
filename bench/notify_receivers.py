"""The bench's stand-ins for Slack, an SMTP server and a webhook receiver (`bench.notify_latency`),
in a process of their own at nice 10: they run elsewhere in production and cost this machine
nothing, and taking 300 messages a second on the load generator's event loop would slow the
clock that reads each lead's latency."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import time
from collections import Counter
from typing import Any

from aiosmtpd.controller import Controller

KINDS = ("slack", "webhook", "email")
# The receivers stand for Slack, an SMTP server and a tool, which run elsewhere and cost this
# machine nothing: they yield the cores as Baton's own senders do under `baton up`.
RECEIVERS_NICENESS = 10


class Receivers:
    """What the local Slack, webhook and SMTP receivers accepted, by kind. They run in a process
    of their own: taking 300 messages a second inside the load generator would slow the event
    loop whose clock reads each lead's latency, and charge Baton for it."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.http_port = _free_port()
        self.smtp_port = _free_port()
        self._counters = {kind: context.Value("q", 0) for kind in KINDS}
        self._process = context.Process(
            target=_serve_receivers,
            args=(self.http_port, self.smtp_port, self._counters),
            name="bench-receivers",
            daemon=True,
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def counts(self) -> Counter[str]:
        return Counter({kind: int(counter.value) for kind, counter in self._counters.items()})

    def start(self, timeout_s: float = 30.0) -> None:
        self._process.start()
        deadline = time.monotonic() + timeout_s
        for port in (self.http_port, self.smtp_port):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or not self._process.is_alive():
                        raise RuntimeError(f"the receivers never listened on {port}") from None
                    time.sleep(0.05)

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(10)


class _Receiving:
    """The receivers' side, in their process: counts each message into the shared counters."""

    def __init__(self, counters: dict[str, Any]) -> None:
        self.counters = counters

    def count(self, kind: str) -> None:
        counter = self.counters[kind]
        with counter.get_lock():
            counter.value += 1

    async def handle_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in lines
                        if line.lower().startswith("content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                self.count("slack" if path.startswith("/slack/") else "webhook")
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        self.count("email")
        return "250 Message accepted for delivery"


def _serve_receivers(http_port: int, smtp_port: int, counters: dict[str, Any]) -> None:
    os.nice(RECEIVERS_NICENESS)
    asyncio.run(_receive(http_port, smtp_port, _Receiving(counters)))


async def _receive(http_port: int, smtp_port: int, receiving: _Receiving) -> None:
    server = await asyncio.start_server(receiving.handle_http, "127.0.0.1", http_port)
    smtp = Controller(receiving, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    try:
        async with server:
            await server.serve_forever()
    finally:
        smtp.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
