"""What crypto-shredding costs per event: seal + encode + decode + open, against encode + decode.

The events are the three that carry a lead's personal fields (`lead.ingested`, `activity.recorded`,
`lead.qualified`), built from the contract fixtures. "Plain" is what every event costs anyway on
its way through the outbox and the consumer (`to_bytes`, `decode_event`); "sealed" adds the
AES-256-GCM seal at the producer and the open at the consumer (`shared.sealing`). The catch-up
a consumer makes when a key is missing is not in these figures: it costs one `ListOffsets`
round trip and happens about once per new lead (docs/erasure.md).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import write_results
from shared.contracts import AnyEvent, decode_event
from shared.sealing import new_key, open_event, seal_event

FIXTURES = Path(__file__).parent.parent / "tests" / "contracts"
EVENTS = ("lead.ingested.v1.json", "activity.recorded.v1.json", "lead.qualified.v1.json")


def _block_us(step: Callable[[], object], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        step()
    return (time.perf_counter() - started) / rounds * 1e6


def measure(event: AnyEvent, rounds: int, repeats: int) -> dict[str, Any]:
    """Plain and sealed blocks alternate, and each keeps its fastest block: on a shared machine
    both then see the same quiet moments, and the ratio holds where the absolute times do not."""
    key = new_key()

    def plain() -> object:
        return decode_event(event.to_bytes())

    def sealed() -> object:
        return open_event(decode_event(seal_event(event, key).to_bytes()), key)

    plain_us = sealed_us = float("inf")
    for _ in range(repeats):
        plain_us = min(plain_us, _block_us(plain, rounds))
        sealed_us = min(sealed_us, _block_us(sealed, rounds))
    return {
        "plain_us": round(plain_us, 2),
        "sealed_us": round(sealed_us, 2),
        "seal_and_open_us": round(sealed_us - plain_us, 2),
        "ratio_sealed_to_plain": round(sealed_us / plain_us, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sealing", description=__doc__)
    parser.add_argument("--rounds", type=int, default=1000, help="events per timed block")
    parser.add_argument("--repeats", type=int, default=15, help="timed blocks of each kind")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    by_event = {
        name.removesuffix(".v1.json"): measure(
            decode_event((FIXTURES / name).read_bytes()), args.rounds, args.repeats
        )
        for name in EVENTS
    }
    print(f"{'event':<20} {'plain µs':>9} {'sealed µs':>10} {'seal+open µs':>13} {'ratio':>6}")
    for name, row in by_event.items():
        print(
            f"{name:<20} {row['plain_us']:>9} {row['sealed_us']:>10} {row['seal_and_open_us']:>13} "
            f"{row['ratio_sealed_to_plain']:>6}"
        )
    worst = max(row["ratio_sealed_to_plain"] for row in by_event.values())
    results = {
        "rounds": args.rounds,
        "repeats": args.repeats,
        "events": by_event,
        "worst_ratio_sealed_to_plain": worst,
    }
    print(f"bench: results in {write_results(args.out, 'sealing', results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
