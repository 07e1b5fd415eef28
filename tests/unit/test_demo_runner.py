"""`baton demo` leaves a running Baton alone when people signed its rubric (issue 22).

The running Baton is a small real HTTP server that answers what `baton up`'s services answer
to the demo's first two questions: `/readyz`, and scoring's `GET /v1/rubric`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from baton.demo.agreement import is_the_demos, starter_document
from baton.demo.run import DemoConfig
from baton.demo.runner import baton_to_drive
from baton.services import SERVICES

STARTER = str(starter_document()["version"])


class RunningBaton:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.active_version = STARTER
        self.rubric_reads = 0
        baton = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/readyz":
                    self._answer({"status": "ready"})
                elif self.path == "/v1/rubric":
                    baton.rubric_reads += 1
                    self._answer({"version": baton.active_version, "rules": []})
                else:
                    self.send_error(404)

            def _answer(self, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        url = f"http://127.0.0.1:{self.server.server_address[1]}"
        (home / "local.json").write_text(
            json.dumps({"urls": dict.fromkeys(SERVICES, url), "tokens": {"manager": "t"}, "reps": []})
        )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningBaton]:
    baton = RunningBaton(tmp_path)
    thread = threading.Thread(target=baton.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield baton
    finally:
        baton.server.shutdown()
        baton.server.server_close()


class TestWhichBatonTheDemoDrives:
    def test_a_running_baton_on_the_starter_rubric_is_driven(self, running: RunningBaton) -> None:
        said: list[str] = []
        assert baton_to_drive(DemoConfig(home=running.home), said.append) is not None
        assert said[0].startswith(f"using the Baton running from {running.home}")

    def test_a_rubric_an_earlier_demo_activated_is_the_demos_to_replace(self, running: RunningBaton) -> None:
        running.active_version = f"demo-s1-{'a' * 6}-week2"
        assert baton_to_drive(DemoConfig(home=running.home), lambda _: None) is not None

    def test_a_rubric_people_signed_sends_the_demo_to_a_private_baton(self, running: RunningBaton) -> None:
        running.active_version = "acme-2026-q1"
        said: list[str] = []
        assert baton_to_drive(DemoConfig(home=running.home), said.append) is None
        assert running.rubric_reads == 1
        assert "holds rubric acme-2026-q1, which people signed" in said[0]
        assert "--against-running" in said[0]

    def test_against_running_drives_it_anyway(self, running: RunningBaton) -> None:
        running.active_version = "acme-2026-q1"
        config = DemoConfig(home=running.home, against_running=True)
        assert baton_to_drive(config, lambda _: None) is not None

    def test_no_running_baton_means_a_private_one(self, tmp_path: Path) -> None:
        assert baton_to_drive(DemoConfig(home=tmp_path / "nothing-here"), lambda _: None) is None


class TestTheDemosOwnVersions:
    def test_the_starter_and_the_names_the_demo_gives_are_its_own(self) -> None:
        assert is_the_demos(STARTER, STARTER)
        assert is_the_demos(f"{STARTER}-demo-s1-abc123", STARTER)
        assert is_the_demos("demo-s1-abc123-week2", STARTER)

    def test_any_other_name_is_a_rubric_people_signed(self) -> None:
        assert not is_the_demos("2026.12-tuned", STARTER)
        assert not is_the_demos(f"{STARTER}-v2", STARTER)
