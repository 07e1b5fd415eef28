"""A `baton up` for a test module or package: started (a start that fails fails the test, with
its log) and stopped afterwards unless a test stopped it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bench.system import BatonDidNotStart, RunningBaton, start_baton


@contextmanager
def running_baton(home: Path, **options: Any) -> Iterator[RunningBaton]:
    """`start_baton(home, **options)`, stopped on the way out."""
    try:
        running = start_baton(home, **options)
    except BatonDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
