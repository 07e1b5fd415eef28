"""Ctrl-C on `baton up` as a terminal sends it: SIGINT to the whole foreground process group.

The promise (README, `baton/launcher.py`): services stop first (consumers drain, relays flush),
then the broker, then PostgreSQL, and nobody's log shows a traceback.
"""

from __future__ import annotations

import os
import signal
import time
import uuid

import httpx
import psutil
import pytest

from baton.services import SERVICES
from bench.system import BatonDidNotStart, start_baton

pytestmark = pytest.mark.e2e


# What a service's log showed when the broker died under it (issue 22).
BROKEN_SHUTDOWN = ("Traceback", "CancelledError", "Application shutdown failed", "Connection refused")


@pytest.mark.timeout(300)
def test_sigint_to_the_process_group_stops_services_then_broker_then_postgres(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("ctrl-c-home")
    try:
        # An empty XDG_RUNTIME_DIR (root in a container) is what made platformdirs warn at start-up.
        baton = start_baton(home, partitions=2, own_process_group=True, env={"XDG_RUNTIME_DIR": ""})
    except BatonDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)
    group = baton.process.pid
    try:
        _a_lead_goes_through(baton.url("ingest"), baton.url("routing"), baton.headers())
        broker = next(p for p in psutil.Process(group).children(recursive=True) if p.name() == "tansu")
        postmaster = psutil.Process(int((home / "pgdata" / "postmaster.pid").read_text().split()[0]))
        # Outside the terminal's group, Ctrl-C cannot reach them; `baton up` stops them in order.
        assert os.getpgid(broker.pid) != group
        assert os.getpgid(postmaster.pid) != group

        os.killpg(group, signal.SIGINT)
        assert baton.process.wait(90) == 0
    finally:
        if baton.process.poll() is None:
            baton.stop()

    said = baton.output.read_text()
    lines = [line.removeprefix("baton: ") for line in said.splitlines()]
    order = [
        lines.index(step) for step in ("stopping", "services stopped", "broker stopped", "PostgreSQL stopped")
    ]
    assert order == sorted(order), said
    assert "Traceback" not in said
    assert "XDG_RUNTIME_DIR" not in said, said
    for service in SERVICES:
        log = (home / "logs" / f"{service}.log").read_text()
        assert "Application shutdown complete" in log, f"{service} did not finish its shutdown"
        assert f'"event": "{service}.stopped"' in log, service
        found = [marker for marker in BROKEN_SHUTDOWN if marker in log]
        assert found == [], f"{service}.log: {found}"
    # Routing's senders run in a process of their own under `baton up`, stopped with the services.
    senders = (home / "logs" / "routing-senders.log").read_text()
    assert "Application shutdown complete" in senders
    assert '"event": "routing.senders_stopped"' in senders
    assert [marker for marker in BROKEN_SHUTDOWN if marker in senders] == []
    _gone, alive = psutil.wait_procs([broker, postmaster], timeout=15)
    assert alive == []


def _a_lead_goes_through(ingest: str, routing: str, headers: dict[str, str]) -> None:
    """One lead all the way to an assignment, so every consumer has committed work to stop from."""
    email = f"ctrl-c-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(timeout=10) as http:
        posted = http.post(
            f"{ingest}/v1/forms/demo-request/submissions",
            json={"email": email, "job_title": "VP Engineering", "company_size": 500},
            headers={"Idempotency-Key": email},
        )
        assert posted.status_code == 202, posted.text
        lead_id = posted.json()["lead_id"]
        deadline = time.monotonic() + 30
        while http.get(f"{routing}/v1/leads/{lead_id}/assignment", headers=headers).status_code != 200:
            assert time.monotonic() < deadline, "the lead was never assigned"
            time.sleep(0.1)
