"""Finding the Baton to drive: the one `baton up` runs from a home folder, or a private one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from baton.embedded import free_port
from baton.services import SERVICES


@dataclass
class Baton:
    """What the demo needs of a running Baton: URLs, tokens per role, the reps' tokens."""

    urls: dict[str, str]
    tokens: dict[str, str]
    rep_tokens: dict[str, str]

    @classmethod
    def from_local(cls, local: dict[str, Any]) -> Baton:
        return cls(
            urls=dict(local["urls"]),
            tokens=dict(local["tokens"]),
            rep_tokens={str(r["id"]): str(r["token"]) for r in local.get("reps", []) if "token" in r},
        )

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


class DemoFailed(RuntimeError):
    pass


def running_baton(home: Path) -> Baton | None:
    """The Baton `baton up` runs from `home`, if it answers."""
    local = home / "local.json"
    if not local.exists():
        return None
    baton = Baton.from_local(json.loads(local.read_text()))
    try:
        ready = all(
            httpx.get(f"{baton.urls[s]}/readyz", timeout=2).json().get("status") == "ready" for s in SERVICES
        )
    except (httpx.HTTPError, KeyError, ValueError):
        return None
    return baton if ready else None


@contextmanager
def private_baton(say: Callable[[str], None], timeout_s: float = 180.0) -> Iterator[Baton]:
    """`baton up` in a temporary home on free ports, stopped (SIGTERM) on exit."""
    with tempfile.TemporaryDirectory(prefix="baton-demo-") as folder:
        home = Path(folder)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("BATON_") and k not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}
        }
        env.update(BATON_HOME=str(home), BATON_BROKER_PORT=str(free_port()), BATON_TOPIC_PARTITIONS="3")
        env.update({f"BATON_{s.upper()}_PORT": str(free_port()) for s in SERVICES})
        output = home / "up.out"
        say(f"starting a private Baton in {home} (no running `baton up` found)")
        with open(output, "wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "baton.cli", "up"], env=env, stdout=sink, stderr=subprocess.STDOUT
            )
        try:
            deadline = time.monotonic() + timeout_s
            while b"baton: ready" not in output.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise DemoFailed(
                        f"`baton up` did not become ready:\n{output.read_text(errors='replace')[-3000:]}"
                    )
                time.sleep(0.2)
            yield Baton.from_local(json.loads((home / "local.json").read_text()))
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
