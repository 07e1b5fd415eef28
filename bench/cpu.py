"""CPU seconds each part of a running Baton spent in a window, to put a price per lead on a rate.

A rate is possible on a machine only while the CPU all parts spend per lead, times the rate,
fits in its cores; a latency target above that rate is not a tuning problem. The parts are the
four services (`serve <name>` in a child's command line), PostgreSQL (the postmaster and its
backends: pg_ctl starts it outside `baton up`'s tree, so it is found by its postmaster.pid), the
broker, `baton up` itself and the load generator (this process: the senders and the watcher).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psutil

Key = tuple[int, float]  # (pid, create time): a pid reused inside a window is another process


def _busy_s(process: psutil.Process, *, reaped_children: bool = False) -> float:
    times = process.cpu_times()
    busy = times.user + times.system
    if reaped_children:
        # A postmaster's backends that ended inside the window are counted by the kernel here.
        busy += times.children_user + times.children_system
    return float(busy)


def _part_of(process: psutil.Process) -> str:
    cmd = process.cmdline()
    if "serve" in cmd and cmd.index("serve") + 1 < len(cmd):
        return cmd[cmd.index("serve") + 1]
    if "tansu" in process.name() or any("tansu" in part for part in cmd[:1]):
        return "broker"
    return "baton up"


@dataclass
class CpuAccount:
    """Snapshots of every process's CPU seconds; `since(start)` gives each part's share."""

    baton_pid: int
    home: Path
    generator_pid: int

    def _postmaster(self) -> psutil.Process | None:
        for pid_file in self.home.rglob("postmaster.pid"):
            try:
                return psutil.Process(int(pid_file.read_text().split()[0]))
            except (psutil.NoSuchProcess, ValueError, IndexError):
                continue
        return None

    def snapshot(self) -> dict[Key, tuple[str, float]]:
        found: dict[Key, tuple[str, float]] = {}

        def add(process: psutil.Process, part: str, *, reaped: bool = False) -> None:
            try:
                with process.oneshot():
                    found[(process.pid, process.create_time())] = (
                        part,
                        _busy_s(process, reaped_children=reaped),
                    )
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass

        root = psutil.Process(self.baton_pid)
        add(root, "baton up")
        for child in root.children(recursive=True):
            try:
                part = _part_of(child)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            # A service's own children (a uvicorn reloader's worker) count for the service.
            parent = child.parent()
            if part == "baton up" and parent is not None and parent.pid != self.baton_pid:
                part = _part_of(parent)
            add(child, part)
        postmaster = self._postmaster()
        if postmaster is not None:
            add(postmaster, "postgres", reaped=True)
            for backend in postmaster.children(recursive=True):
                add(backend, "postgres")
        add(psutil.Process(self.generator_pid), "load generator")
        return found

    def since(self, start: dict[Key, tuple[str, float]]) -> dict[str, float]:
        """CPU seconds per part between `start` and now (a process born in between from zero)."""
        spent: dict[str, float] = {}
        for key, (part, busy) in self.snapshot().items():
            before = start.get(key, (part, 0.0))[1]
            spent[part] = spent.get(part, 0.0) + max(0.0, busy - before)
        return spent


def per_lead(spent_s: dict[str, float], leads: int, *, rate: float, cores: int) -> dict[str, object]:
    """Each part's CPU ms per lead, their sum, and what the sum means for `rate` on `cores`."""
    if leads == 0:
        return {"leads": 0}
    parts = {part: round(1000 * seconds / leads, 2) for part, seconds in sorted(spent_s.items())}
    total_ms = sum(spent_s.values()) * 1000 / leads
    return {
        "leads": leads,
        "ms_per_lead": parts,
        "total_ms_per_lead": round(total_ms, 2),
        # Cores the rate needs at this price; above `cores` the rate cannot be held at all here.
        "cores_needed": round(total_ms * rate / 1000, 2),
        "cores": cores,
        "max_rate_per_s": round(cores * 1000 / total_ms, 1) if total_ms else None,
    }
