"""`baton demo`, short: two simulated weeks on a real `baton up`, with one rubric change.

The `baton up` is the one the README walkthrough uses too (tests/e2e/conftest.py).
"""

from __future__ import annotations

import re

import httpx
import pytest

from baton.cli import main
from bench.system import RunningBaton

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(150)
def test_short_demo_changes_the_rubric_and_prints_the_before_and_after(
    baton: RunningBaton, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "demo",
            "--weeks", "2",
            "--seed", "1",
            "--speed", "12",
            "--leads-per-week", "80",
            "--retune-every", "1",
            "--min-outcomes", "8",
            "--home", str(baton.home),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"using the Baton running from {baton.home}" in out
    proposed = re.search(r"week 1: feedback proposed (demo-s1-[0-9a-f]+-week1) from (\d+) judged MQLs", out)
    assert proposed, out
    version = proposed.group(1)
    assert "marketing and sales approved; active" in out

    rows = re.findall(
        r"^(2026\.11-starter|demo-s1-\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+) %", out, re.MULTILINE
    )
    assert [r[0] for r in rows] == ["2026.11-starter", version], out
    assert all(int(leads) > 0 and int(mqls) > 0 for _, leads, mqls, _, _ in rows)
    assert "Before → after: MQL→SQL" in out
    assert "$" not in out  # revenue is in the currency routing stored the wins in (EUR by default)
    assert "Speed to lead per SLA tier" in out
    assert re.search(
        r"week 2\.0/2\s+leads \d+\s+MQLs \d+\s+MQL→SQL [\d.]+ %\s+SLA met [\d.]+ %\s+rubric " + version, out
    )

    with httpx.Client(timeout=10) as http:
        active = http.get(f"{baton.url('scoring')}/v1/rubric", headers=baton.headers("manager")).json()
        groups = http.get(
            f"{baton.url('feedback')}/v1/funnel/groups",
            params={"by": "rubric_version"},
            headers=baton.headers("marketing"),
        ).json()
        page = http.get(f"{baton.url('feedback')}/")
    assert active["version"] == version
    assert {g["key"] for g in groups["groups"]} >= {"2026.11-starter", version}
    assert page.status_code == 200


@pytest.mark.timeout(90)
def test_a_second_run_starts_again_from_the_starter_rubric(
    baton: RunningBaton, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["demo", "--weeks", "1", "--speed", "12", "--leads-per-week", "30", "--home", str(baton.home)]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    restarted = re.search(r"re-activated the starter rubric as (2026\.11-starter-demo-s1-[0-9a-f]+)", out)
    assert restarted, out
    assert re.search(r"^" + re.escape(restarted.group(1)) + r"\s+\d+\s+\d+", out, re.MULTILINE), out
    with httpx.Client(timeout=10) as http:
        active = http.get(f"{baton.url('scoring')}/v1/rubric", headers=baton.headers("manager")).json()
    assert active["version"] == restarted.group(1)
