"""A TCP proxy in front of the broker that `bench.chaos` can cut off from the network.

The broker advertises the proxy's address, so every Kafka connection of every service (and of
the chaos observers) runs through it. SIGUSR1 cuts: every open connection is reset and the
listening socket is closed, so new connections are refused (ECONNREFUSED), not left hanging as
under a freeze. SIGUSR2 heals: the proxy listens again on the same port.

Run as its own process (`python -m bench.netcut --listen-port P --upstream-port B`) so the load
generator's event loop never slows the broker's traffic down.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from baton.embedded import die_with_parent, wait_for_port

CHUNK = 64 * 1024


@dataclass
class CuttableLink:
    listen_port: int
    upstream_port: int
    host: str = "127.0.0.1"
    server: asyncio.Server | None = None
    writers: set[asyncio.StreamWriter] = field(default_factory=set)
    cut_off: bool = False

    async def listen(self) -> None:
        self.cut_off = False
        self.server = await asyncio.start_server(self._serve, self.host, self.listen_port, reuse_address=True)

    async def cut(self) -> None:
        self.cut_off = True
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.writers):
            # SO_LINGER 0 turns the close into a reset, as a dropped link looks to the peer.
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            writer.transport.abort()
        self.writers.clear()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.host, self.upstream_port)
        except OSError:
            client_writer.transport.abort()
            return
        if self.cut_off:
            # Accepted just before the cut: it must not outlive it.
            client_writer.transport.abort()
            upstream_writer.transport.abort()
            return
        pair = {client_writer, upstream_writer}
        self.writers |= pair
        try:
            await asyncio.gather(
                self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer)
            )
        finally:
            for writer in pair:
                writer.transport.abort()
            self.writers -= pair

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


async def serve(listen_port: int, upstream_port: int) -> None:
    link = CuttableLink(listen_port, upstream_port)
    await link.listen()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, lambda: loop.create_task(link.cut()))
    loop.add_signal_handler(signal.SIGUSR2, lambda: loop.create_task(link.listen()))
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print(f"netcut: 127.0.0.1:{listen_port} -> 127.0.0.1:{upstream_port}", flush=True)
    await stop.wait()
    await link.cut()


class NetCut:
    """The proxy process, as the chaos run drives it."""

    def __init__(self, listen_port: int, upstream_port: int) -> None:
        self.listen_port = listen_port
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.netcut",
                "--listen-port",
                str(listen_port),
                "--upstream-port",
                str(upstream_port),
            ],
            stdout=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        wait_for_port("127.0.0.1", listen_port)

    def cut(self) -> None:
        self.process.send_signal(signal.SIGUSR1)

    def heal(self) -> None:
        self.process.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.listen_port), 0.5):
                return
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.netcut", description=__doc__)
    parser.add_argument("--listen-port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.listen_port, args.upstream_port))


if __name__ == "__main__":
    main()
