"""`baton up`'s processes: one per service, and routing's senders in a process of their own
unless BATON_ROUTING_SENDERS=inline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from baton.launcher import SENDERS_NICENESS, Child, UpConfig, service_children
from baton.services import SERVICES
from bench.system import served_name

ENV = {"BATON_DATABASE_URL": "postgresql+asyncpg://baton@localhost/baton"}


def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> UpConfig:
    for name in ("BATON_ROUTING_SENDERS", "BATON_ROUTING_SENDERS_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return UpConfig.from_env(home=tmp_path)


def served(command: list[str]) -> list[str]:
    """`baton serve`'s arguments, without the interpreter and host."""
    start = command.index("serve")
    return command[start + 1 : command.index("--host")] + command[command.index("--port") :]


class TestServiceChildren:
    def test_routings_senders_run_in_their_own_process_and_routing_leaves_them_out(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        children = {child.name: child for child in service_children(config(monkeypatch, tmp_path), ENV)}
        assert list(children) == [*SERVICES, "routing-senders"]
        assert served(children["routing-senders"].command) == [
            "routing",
            "--role",
            "senders",
            "--port",
            "8013",
        ]
        assert children["routing-senders"].log_path == tmp_path / "logs" / "routing-senders.log"
        assert children["routing"].env["BATON_ROUTING_SENDERS"] == "separate"
        assert served(children["routing"].command) == ["routing", "--port", "8003"]
        # The same database and settings as routing's.
        assert children["routing-senders"].env["BATON_DATABASE_URL"] == ENV["BATON_DATABASE_URL"]
        # A message may wait for a core; an assignment should not.
        assert {name: child.niceness for name, child in children.items()} == {
            **dict.fromkeys(SERVICES, 0),
            "routing-senders": SENDERS_NICENESS,
        }

    def test_the_senders_port_is_a_setting(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        cfg = config(monkeypatch, tmp_path, BATON_ROUTING_SENDERS_PORT="9013")
        (senders,) = [child for child in service_children(cfg, ENV) if child.name == "routing-senders"]
        assert served(senders.command)[-1] == "9013"

    def test_inline_senders_run_in_routing_and_no_process_of_their_own(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        cfg = config(monkeypatch, tmp_path, BATON_ROUTING_SENDERS="inline")
        children = {child.name: child for child in service_children(cfg, ENV)}
        assert list(children) == list(SERVICES)
        assert children["routing"].env["BATON_ROUTING_SENDERS"] == "inline"

    def test_the_benches_tell_each_process_by_its_command_line(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        for child in service_children(config(monkeypatch, tmp_path), ENV):
            assert served_name(child.command) == child.name
        assert served_name(["tansu", "broker"]) is None


def test_a_child_is_niced_once_settled_not_from_birth(tmp_path: Path) -> None:
    """Niced from birth, the senders took minutes to import on a busy machine and `baton up`
    gave up on them: the niceness applies once the process is ready."""
    child = Child(
        "slow", [sys.executable, "-c", "import time; time.sleep(30)"], {}, tmp_path / "c.log", niceness=3
    )
    child.start()
    assert child.process is not None
    try:
        born = os.getpriority(os.PRIO_PROCESS, child.process.pid)
        assert born == os.getpriority(os.PRIO_PROCESS, 0)
        child.settle()
        assert os.getpriority(os.PRIO_PROCESS, child.process.pid) == born + 3
    finally:
        child.process.kill()
        child.process.wait()
    child.settle()  # an exited process is left alone
