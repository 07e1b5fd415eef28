"""`python -m bench.ingest_ab --baseline DIR`: this tree's form posts against another tree's, in one run.

On a shared, loaded machine posts per second move with the neighbours' load, so a change to
ingest's request path is judged by ratios taken within one run: the durable bare endpoint, the
baseline tree's ingest (`DIR`, e.g. `git archive main | tar -x -C DIR`) and this tree's ingest
take turns, round after round, on the same database and broker, and each round's ratios count.
Server CPU per post is reported beside them: it depends far less on the neighbours.
Prints a table and writes bench/results/ingest_ab-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import write_results
from bench.ingest import FORM_ID, Servers, _call, form_posts, servers

CONTESTANTS = ("durable", "baseline", "ingest")


def measure(args: argparse.Namespace, ports: Servers) -> dict[str, Any]:
    run = secrets.token_hex(4)
    port_of = {"durable": ports.durable_port, "baseline": ports.baseline_port, "ingest": ports.ingest_port}
    for name in ("baseline", "ingest"):
        _call(port_of[name], "POST", "/v1/forms", ports.marketing, {"id": FORM_ID, "name": "Bench"})
        form_posts(ports, port_of[name], connections=args.connections, seconds=2, run=f"{run}w{name}")
    rounds: list[dict[str, Any]] = []
    for number in range(args.rounds):
        # Each round in another order, so neither tree always follows the other.
        order = CONTESTANTS if number % 2 == 0 else tuple(reversed(CONTESTANTS))
        found = {
            name: form_posts(
                ports,
                port_of[name],
                connections=args.connections,
                seconds=args.seconds,
                run=f"{run}{number}{name}",
            )
            for name in order
        }
        rounds.append(found)
        print(f"bench.ingest_ab: round {number + 1}: " + _line(found), flush=True)
    return {"rounds": rounds, "summary": summary(rounds)}


def _line(found: dict[str, Any]) -> str:
    return ", ".join(
        f"{name} {found[name]['per_s']}/s {found[name]['server_cpu_ms_per_post']} ms CPU"
        for name in CONTESTANTS
    )


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds of each round's own ratios."""

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    return {
        "baseline_per_durable": median([r["baseline"]["per_s"] / r["durable"]["per_s"] for r in rounds]),
        "ingest_per_durable": median([r["ingest"]["per_s"] / r["durable"]["per_s"] for r in rounds]),
        "ingest_per_baseline": median([r["ingest"]["per_s"] / r["baseline"]["per_s"] for r in rounds]),
        "cpu_ms_per_post": {
            name: median([r[name]["server_cpu_ms_per_post"] for r in rounds]) for name in CONTESTANTS
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_ab", description=__doc__)
    parser.add_argument("--baseline", type=Path, required=True, help="the source tree to compare against")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each measurement")
    parser.add_argument("--connections", type=int, default=32, help="concurrent form posters")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="baton-bench-ingest-ab-") as tmp,
        servers(Path(tmp), 1, baseline=args.baseline.resolve()) as ports,
    ):
        results = measure(args, ports)
    path = write_results(args.out, "ingest_ab", results)
    for name, value in results["summary"].items():
        print(f"{name:<22} {value}")
    print(f"bench.ingest_ab: wrote {path}")


if __name__ == "__main__":
    main()
