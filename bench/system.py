"""Start `baton up` in a throwaway home on free ports, for benchmarks and end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.embedded import free_port

SERVICES = ("ingest", "scoring", "routing", "feedback")


class BatonDidNotStart(RuntimeError):
    pass


@dataclass
class RunningBaton:
    process: subprocess.Popen[bytes]
    home: Path
    local: dict[str, Any]
    output: Path

    def url(self, service: str) -> str:
        return str(self.local["urls"][service])

    def headers(self, role: str = "manager") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.local['tokens'][role]}"}

    def stop(self, timeout_s: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)


def isolated_env(home: Path, *, partitions: int) -> dict[str, str]:
    """The caller's environment minus Baton settings, with a private home and free ports."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BATON_") and k not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}
    }
    env.update(
        BATON_HOME=str(home),
        BATON_BROKER_PORT=str(free_port()),
        BATON_TOPIC_PARTITIONS=str(partitions),
        **{f"BATON_{s.upper()}_PORT": str(free_port()) for s in SERVICES},
    )
    return env


def start_baton(home: Path, *, partitions: int = 6, timeout_s: float = 180) -> RunningBaton:
    home.mkdir(parents=True, exist_ok=True)
    output = home / "up.out"
    with open(output, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "up"],
            env=isolated_env(home, partitions=partitions),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout_s
    while b"baton: ready" not in output.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            logs = "\n".join(
                f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                for p in sorted((home / "logs").glob("*.log"))
            )
            raise BatonDidNotStart(f"`baton up` did not become ready:\n{output.read_text()}\n{logs}")
        time.sleep(0.2)
    return RunningBaton(process, home, json.loads((home / "local.json").read_text()), output)
