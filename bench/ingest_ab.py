"""`python -m bench.ingest_ab --baseline DIR`: this tree's ingest against another tree's, in one run.

On a shared, loaded machine posts per second move with the neighbours' load, so a change to
ingest's request path is judged by ratios taken within one run: the durable bare endpoint, the
baseline tree's ingest (`DIR`, e.g. `git archive main | tar -x -C DIR`) and this tree's ingest
take turns, round after round, on the same database and broker, and each round's ratios count.
Each round then has both trees take turns at `/v1/events` (1,000-item batches, as `bench.ingest`
sends them). Server CPU per post and per event is reported beside them: it depends far less on
the neighbours.
Prints a table and writes bench/results/ingest_ab-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import write_results
from bench.ingest import (
    FORM_ID,
    Servers,
    _call,
    drain_outbox,
    event_batches,
    events_per_second,
    form_posts,
    servers,
)

CONTESTANTS = ("durable", "baseline", "ingest")
TREES = ("baseline", "ingest")


def measure(args: argparse.Namespace, ports: Servers) -> dict[str, Any]:
    run = secrets.token_hex(4)
    port_of = {"durable": ports.durable_port, "baseline": ports.baseline_port, "ingest": ports.ingest_port}
    # Both trees share one database: the form and the source are created once, through this tree.
    _call(ports.ingest_port, "POST", "/v1/forms", ports.marketing, {"id": FORM_ID, "name": "Bench"})
    key = _call(
        ports.ingest_port, "POST", "/v1/sources", ports.admin, {"id": f"bench-{run}", "name": "Bench"}
    )["api_key"]
    for name in TREES:
        form_posts(ports, port_of[name], connections=args.connections, seconds=2, run=f"{run}w{name}")
    if args.events:
        # Every measurement sends the same people's activity (as a site's stream does, people
        # recur), all made leads here first: otherwise whichever tree went first would pay for
        # creating them, and a loaded machine's short run would measure little else.
        for body in event_batches(f"{run}e", count=20):
            _call(ports.ingest_port, "POST", "/v1/events", "", json.loads(body), api_key=key)
        for name in TREES:
            events(ports, port_of[name], key, args, seconds=2, run=f"{run}e")
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
        if args.events:
            for name in order:
                if name in TREES:
                    found[f"{name}_events"] = events(
                        ports, port_of[name], key, args, seconds=args.seconds, run=f"{run}e"
                    )
        rounds.append(found)
        print(f"bench.ingest_ab: round {number + 1}: " + _line(found), flush=True)
    return {"rounds": rounds, "summary": summary(rounds)}


def events(
    ports: Servers, port: int, key: str, args: argparse.Namespace, *, seconds: float, run: str
) -> dict[str, Any]:
    """`/v1/events` events/s of the tree on `port`, and its server CPU per event."""
    cpu_before = ports.cpu_s(port)
    found = asyncio.run(
        events_per_second(port, key, connections=args.event_connections, seconds=seconds, run=run)
    )
    # The relays publish what the batches staged before anything else is measured: a tree's next
    # form posts must not share its process with the last events' backlog. The CPU counted is
    # the tree's, publishing included.
    found["outbox_drain_s"] = asyncio.run(drain_outbox(ports))
    accepted = found["events_per_s"] * seconds
    found["server_cpu_us_per_event"] = (
        round(1e6 * (ports.cpu_s(port) - cpu_before) / accepted, 1) if accepted else None
    )
    return found


def _line(found: dict[str, Any]) -> str:
    posts = [
        f"{name} {found[name]['per_s']}/s {found[name]['server_cpu_ms_per_post']} ms CPU"
        for name in CONTESTANTS
    ]
    events = [
        f"{name} {found[f'{name}_events']['events_per_s']} events/s "
        f"{found[f'{name}_events']['server_cpu_us_per_event']} us CPU"
        for name in TREES
        if f"{name}_events" in found
    ]
    return ", ".join(posts + events)


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds of each round's own ratios."""

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    found: dict[str, Any] = {
        "baseline_per_durable": median([r["baseline"]["per_s"] / r["durable"]["per_s"] for r in rounds]),
        "ingest_per_durable": median([r["ingest"]["per_s"] / r["durable"]["per_s"] for r in rounds]),
        "ingest_per_baseline": median([r["ingest"]["per_s"] / r["baseline"]["per_s"] for r in rounds]),
        "cpu_ms_per_post": {
            name: median([r[name]["server_cpu_ms_per_post"] for r in rounds]) for name in CONTESTANTS
        },
    }
    if rounds and "ingest_events" in rounds[0]:
        found["events_per_s"] = {
            name: median([r[f"{name}_events"]["events_per_s"] for r in rounds]) for name in TREES
        }
        found["events_ingest_per_baseline"] = median(
            [r["ingest_events"]["events_per_s"] / r["baseline_events"]["events_per_s"] for r in rounds]
        )
        found["cpu_us_per_event"] = {
            name: median([r[f"{name}_events"]["server_cpu_us_per_event"] for r in rounds]) for name in TREES
        }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_ab", description=__doc__)
    parser.add_argument("--baseline", type=Path, required=True, help="the source tree to compare against")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each measurement")
    parser.add_argument("--connections", type=int, default=32, help="concurrent form posters")
    parser.add_argument("--event-connections", type=int, default=2, help="concurrent batch posters")
    parser.add_argument(
        "--no-events", dest="events", action="store_false", help="form posts only, not /v1/events"
    )
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
