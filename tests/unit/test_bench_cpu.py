"""The pipeline bench's CPU account: the price per lead, and whether a rate fits the cores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cpu import CpuAccount, per_lead


def test_each_part_is_priced_per_lead_and_the_sum_sets_the_highest_rate() -> None:
    figures = per_lead({"routing": 2.0, "postgres": 1.0, "broker": 2.0}, 1000, rate=300, cores=2)
    assert figures["ms_per_lead"] == {"broker": 2.0, "postgres": 1.0, "routing": 2.0}
    assert figures["total_ms_per_lead"] == 5.0
    assert figures["cores_needed"] == pytest.approx(1.5)
    assert figures["max_rate_per_s"] == 400.0


def test_a_rate_whose_cpu_exceeds_the_cores_says_so() -> None:
    figures = per_lead({"scoring": 5.0}, 500, rate=300, cores=2)
    assert figures["cores_needed"] == pytest.approx(3.0)
    assert figures["max_rate_per_s"] == 200.0


def test_a_window_without_leads_prices_nothing() -> None:
    assert per_lead({"routing": 1.0}, 0, rate=100, cores=2) == {"leads": 0}


def test_a_service_child_counts_to_its_service_and_this_process_to_the_load_generator(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "serve", "routing"])
    try:
        account = CpuAccount(os.getpid(), tmp_path, os.getpid())
        parts = {part for part, _ in account.snapshot().values()}
        spent = account.since(account.snapshot())
    finally:
        child.kill()
        child.wait()
    assert {"routing", "load generator"} <= parts
    assert all(seconds >= 0 for seconds in spent.values())
