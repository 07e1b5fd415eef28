"""One `baton up` for the README walkthrough (test_baton_up.py) and the demo (test_demo.py).

Starting it (embedded PostgreSQL, broker, migrations, four services) is most of either module's
time, so the two share one. The test that stops it with SIGTERM runs after every test that uses
it; the Ctrl-C test starts its own and runs after that, so no two `baton up` run at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.system import RunningBaton
from tests.support.baton import running_baton

E2E = Path(__file__).resolve().parent
STOPS_THE_SHARED_BATON = "test_sigterm_stops_every_child_process"


@pytest.fixture(scope="package")
def baton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBaton]:
    with running_baton(tmp_path_factory.mktemp("baton-home"), partitions=3) as running:
        yield running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Within tests/e2e: the shared `baton up`'s users, then the test that stops it, then the rest."""
    here = [i for i, item in enumerate(items) if item.path.is_relative_to(E2E)]
    if not here:
        return
    e2e = [items[i] for i in here]
    users = [
        item
        for item in e2e
        if "baton" in getattr(item, "fixturenames", ()) and item.name != STOPS_THE_SHARED_BATON
    ]
    stop = [item for item in e2e if item.name == STOPS_THE_SHARED_BATON]
    rest = [item for item in e2e if item not in users and item not in stop]
    for i, item in zip(here, [*users, *stop, *rest], strict=True):
        items[i] = item
