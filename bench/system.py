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

from baton.embedded import die_with_parent, free_port, tansu_binary, wait_for_port
from bench.netcut import NetCut

SERVICES = ("ingest", "scoring", "routing", "feedback")


class BatonDidNotStart(RuntimeError):
    pass


@dataclass
class RunningBaton:
    process: subprocess.Popen[bytes]
    home: Path
    local: dict[str, Any]
    output: Path
    broker: subprocess.Popen[bytes] | None = None
    netcut: NetCut | None = None

    def url(self, service: str) -> str:
        return str(self.local["urls"][service])

    def headers(self, role: str = "manager") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.local['tokens'][role]}"}

    def stop(self, timeout_s: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        finally:
            # Our own broker goes last, as `baton up` stops its embedded one after the services.
            if self.netcut is not None:
                self.netcut.stop()
            if self.broker is not None:
                self.broker.terminate()
                self.broker.wait(10)


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
        BATON_ROUTING_SENDERS_PORT=str(free_port()),
    )
    return env


def start_cuttable_broker(home: Path) -> tuple[subprocess.Popen[bytes], NetCut, str]:
    """tansu behind a `NetCut` proxy, advertising the proxy: all Kafka traffic crosses the proxy."""
    broker_port, proxy_port = free_port(), free_port()
    with open(home / "broker.log", "ab") as log:
        broker = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{broker_port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{proxy_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    wait_for_port("127.0.0.1", broker_port)
    return broker, NetCut(proxy_port, broker_port), f"127.0.0.1:{proxy_port}"


def start_baton(
    home: Path,
    *,
    partitions: int = 6,
    timeout_s: float = 180,
    cuttable_broker: bool = False,
    env: dict[str, str] | None = None,
    own_process_group: bool = False,
) -> RunningBaton:
    """`baton up` in `home`. With `cuttable_broker` the broker is ours, behind a `NetCut` proxy
    (the services see a configured Kafka); `env` adds settings for the services. With
    `own_process_group` it leads a process group of its own, as a shell's foreground job does,
    so a test can send the group what Ctrl-C sends."""
    home.mkdir(parents=True, exist_ok=True)
    output = home / "up.out"
    child_env = {**isolated_env(home, partitions=partitions), **(env or {})}
    broker, netcut = None, None
    if cuttable_broker:
        broker, netcut, bootstrap = start_cuttable_broker(home)
        child_env["BATON_KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        # What `baton up` sets for its embedded broker, which holds a join for half of it.
        child_env.setdefault("BATON_CONSUMER_SESSION_TIMEOUT_MS", "4000")
    with open(output, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "baton.cli", "up"],
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0 if own_process_group else None,
        )
    deadline = time.monotonic() + timeout_s
    while b"baton: ready" not in output.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            if netcut is not None and broker is not None:
                netcut.stop()
                broker.kill()
            logs = "\n".join(
                f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                for p in sorted((home / "logs").glob("*.log"))
            )
            raise BatonDidNotStart(f"`baton up` did not become ready:\n{output.read_text()}\n{logs}")
        time.sleep(0.2)
    local = json.loads((home / "local.json").read_text())
    return RunningBaton(process, home, local, output, broker=broker, netcut=netcut)


def served_name(cmd: list[str]) -> str | None:
    """The process a `baton serve` command line runs: the service, or `<service>-<role>` for a
    role of it (`serve routing --role senders`: routing-senders); None for any other command."""
    if "serve" not in cmd:
        return None
    name = cmd[cmd.index("serve") + 1]
    return f"{name}-{cmd[cmd.index('--role') + 1]}" if "--role" in cmd else name
