"""Background work that notifies nobody: processes that always want a core, at a given nice.

`bench.notify_latency` runs them beside the pipeline, with notifications off, as the control for
its notifications-on phase. Routing's senders and the bench's receivers are processes of their own
that `baton up` and the bench nice by 10; with a backlog to send they always want a core. On a
machine whose cores the pipeline already fills, CFS still gives such a process its weight's share
(nice 10: 110 against nice 0's 1,024), whatever it does with it. If the pipeline slows as much
beside these loops as beside the notifications, what the notifications change is the machine's
spare core, not anything they do.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing.process import BaseProcess

import psutil


def _spin(niceness: int) -> None:
    os.nice(niceness)
    while True:
        sum(range(10_000))


class BusyLoops:
    """`count` processes spinning at `niceness` above the caller's nice, started and stopped
    together; `cpu_seconds` is what they have used so far."""

    def __init__(self, count: int, niceness: int) -> None:
        self.count = count
        self.niceness = niceness
        self._processes: list[BaseProcess] = []

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        for index in range(self.count):
            process = context.Process(
                target=_spin, args=(self.niceness,), name=f"bench-busy-{index}", daemon=True
            )
            process.start()
            self._processes.append(process)

    def cpu_seconds(self) -> float:
        spent = 0.0
        for process in self._processes:
            if process.pid is not None and process.is_alive():
                times = psutil.Process(process.pid).cpu_times()
                spent += times.user + times.system
        return spent

    def stop(self) -> None:
        for process in self._processes:
            process.terminate()
        deadline = time.monotonic() + 10
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
        self._processes.clear()
