"""CPU affinity for benchmarks: give some processes cores of their own, as a chart gives pods.

Linux sets affinity per thread: every thread a process has is pinned, and threads it starts
later inherit the affinity of the thread that starts them. A process started later (a
PostgreSQL backend forked by its postmaster) inherits its parent's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

import psutil

from bench.system import RunningBaton, served_name


def pin(pid: int, cpus: set[int]) -> None:
    """Pin every thread of process `pid` to `cpus` (a process already gone is skipped)."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                os.sched_setaffinity(int(task.name), cpus)


def split_cpus(own: int) -> tuple[set[int], set[int]]:
    """(`{own}`, every other CPU this process may use); refuses a machine with one CPU."""
    allowed = os.sched_getaffinity(0)
    if own not in allowed or len(allowed) < 2:
        raise SystemExit(f"cannot give CPU {own} to the senders: this process may use {sorted(allowed)}")
    return {own}, allowed - {own}


def postgres_processes(baton: RunningBaton) -> list[psutil.Process]:
    """The embedded PostgreSQL's postmaster and its backends (pg_ctl starts it in a session of
    its own, so it is no child of `baton up`)."""
    for pid_file in baton.home.rglob("postmaster.pid"):
        with contextlib.suppress(psutil.NoSuchProcess, ValueError, IndexError):
            postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
            return [postmaster, *postmaster.children(recursive=True)]
    return []


def pin_senders_apart(baton: RunningBaton, own: set[int], rest: set[int], *, also_own: Iterable[int]) -> None:
    """Routing's senders (and the processes `also_own`) on `own`; every other process under
    `baton up` (services, the broker), PostgreSQL, `baton up` itself and this process on `rest`."""
    pin(os.getpid(), rest)
    pin(baton.process.pid, rest)
    for process in postgres_processes(baton):
        pin(process.pid, rest)
    for child in psutil.Process(baton.process.pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            pin(child.pid, own if served_name(child.cmdline()) == "routing-senders" else rest)
    for pid in also_own:
        pin(pid, own)
