"""`python -m bench.scoring_ab --baseline DIR`: this tree's scoring consumer against another tree's, in one run.

On a shared, loaded machine events per second move with the neighbours' load, so a change to
scoring's consumer is judged by ratios taken within one run: the baseline tree (`DIR`, e.g.
`git archive main | tar -x -C DIR`, with this tree's `bench/` copied over it so both run the
same bench) and this tree take turns, round after round, each running
`python -m bench.scoring --only consumer` in a process of its own (its own database and broker,
its own floor measured right after it). Each round's ratios count: scoring over its floor, and
the consumer's CPU per event, which depends far less on the neighbours than events/s.
Prints a table and writes bench/results/scoring_ab-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import write_results

CONTESTANTS = ("baseline", "scoring")


def run_tree(tree: Path, *, leads: int) -> dict[str, Any]:
    """One `bench.scoring --only consumer` run of `tree`'s code; its consumer figures."""
    with tempfile.TemporaryDirectory(prefix="baton-scoring-ab-") as out:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.scoring",
                "--only",
                "consumer",
                "--leads",
                str(leads),
                "--out",
                out,
            ],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        [path] = Path(out).glob("scoring-*.json")
        consumer: dict[str, Any] = json.loads(path.read_text())["consumer"]
    return {
        "scoring_per_s": consumer["scoring"]["per_s"],
        "floor_per_s": consumer["floor"]["per_s"],
        "scoring_over_floor": consumer["scoring_over_floor"],
        "cpu_ms_per_event": _cpu_ms(consumer["scoring"]),
        "floor_cpu_ms_per_event": _cpu_ms(consumer["floor"]),
        # What the statements cost PostgreSQL (another process, on the same two cores).
        "db_cpu_ms_per_event": _ms(consumer["scoring"]["database_cpu_s"], consumer["scoring"]),
        "floor_db_cpu_ms_per_event": _ms(consumer["floor"]["database_cpu_s"], consumer["floor"]),
    }


def _cpu_ms(run: dict[str, Any]) -> float:
    return _ms(run["process_cpu_s"], run)


def _ms(seconds: float, run: dict[str, Any]) -> float:
    return round(1000 * float(seconds) / int(run["events"]), 4)


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds of each contestant's figures and of each round's own ratios."""

    def median(name: str, key: str) -> float:
        return round(float(statistics.median(r[name][key] for r in rounds)), 4)

    return {
        **{f"{name}_{key}": median(name, key) for name in CONTESTANTS for key in rounds[0][name]},
        "scoring_over_floor_new_over_old": round(
            statistics.median(
                r["scoring"]["scoring_over_floor"] / r["baseline"]["scoring_over_floor"] for r in rounds
            ),
            3,
        ),
        "cpu_per_event_new_over_old": round(
            statistics.median(
                r["scoring"]["cpu_ms_per_event"] / r["baseline"]["cpu_ms_per_event"] for r in rounds
            ),
            3,
        ),
        "scoring_per_s_new_over_old": _median_ratio(rounds, "scoring_per_s"),
        "db_cpu_per_event_new_over_old": _median_ratio(rounds, "db_cpu_ms_per_event"),
        "extra_cpu_over_floor_new_over_old": round(
            statistics.median(
                (r["scoring"]["cpu_ms_per_event"] - r["scoring"]["floor_cpu_ms_per_event"])
                / (r["baseline"]["cpu_ms_per_event"] - r["baseline"]["floor_cpu_ms_per_event"])
                for r in rounds
            ),
            3,
        ),
    }


def _median_ratio(rounds: list[dict[str, Any]], key: str) -> float:
    return round(float(statistics.median(r["scoring"][key] / r["baseline"][key] for r in rounds)), 3)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scoring_ab", description=__doc__)
    parser.add_argument("--baseline", type=Path, required=True, help="the tree to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--leads", type=int, default=6_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    trees = {"baseline": args.baseline.resolve(), "scoring": Path.cwd()}
    rounds: list[dict[str, Any]] = []
    for number in range(args.rounds):
        # Each round in another order, so neither tree always follows the other.
        order = CONTESTANTS if number % 2 == 0 else tuple(reversed(CONTESTANTS))
        found = {name: run_tree(trees[name], leads=args.leads) for name in order}
        rounds.append(found)
        print(f"bench.scoring_ab: round {number + 1}: {json.dumps(found)}", flush=True)
    results = {"leads": args.leads, "rounds": rounds, "summary": summary(rounds)}
    path = write_results(args.out, "scoring_ab", results)
    width = max(len(key) for key in results["summary"])
    for key, value in results["summary"].items():
        print(f"{key:<{width}}  {value}")
    print(f"bench: wrote {path}")


if __name__ == "__main__":
    main()
