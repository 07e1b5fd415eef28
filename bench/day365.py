"""`python -m bench.day365 --rows N`: the platform's floor on day 365 against day 1, in turns, in one run.

The floor (`bench/floor.py`: the shared consumer and relay with a handler that only stages each
event again) runs on two databases of one embedded PostgreSQL, both migrated for scoring: `fresh`,
whose tables hold only what its earlier rounds wrote, and `history`, whose `processed_event` holds
`N` rows of the floor's own consumer group, as a consumer that never pruned holds them after a
year. On a shared machine events per second move with the neighbours' load, so the two floors take
turns, round after round, each round on a new batch of the same events (each floor's group goes on
from where it stopped), and only each round's own ratios count (their medians are reported). CPU
per event is the firmer figure: the floor's process (the consumer, the relay and the bench's
counting consumer, alike in both) and PostgreSQL's (the whole cluster, while the floor ran).

The history is what production's table would hold: `processed_at` spread evenly over the last
365 days, the heap filled oldest first, and event ids of the version `Envelope.new` makes (`--ids`
says otherwise): version 7 carries its row's time, so the ids of a year sort in time order and a
new one goes in at the primary key's right edge; random version-4 ids (what it made before) land
anywhere in the btree. The table's one index is exactly the migrations' one. Filling fast: rows go
in through `INSERT ... SELECT` over `generate_series`, logged as any insert is; version-7 rows go
in under the index, as production's do; for version-4 rows the primary key is dropped meanwhile
and added again afterwards at the fill of a btree grown by random inserts (69 %, not the 90 % a
btree built at once packs, which would be smaller than production's and kinder to the cache), its
fill factor then reset so later splits are the migrations' own. Then `VACUUM ANALYZE` (what
autovacuum does to an insert-only table) and a `CHECKPOINT`, so no round writes the fill's pages.

Both floors run with `processed_event` retention off: rows a year old are what an unpruned table
holds, and the pruner would otherwise spend the first turn deleting them. The pruner is measured
apart afterwards: one pass that deletes the oldest day of the history, and one that finds nothing.

Prints a table and writes bench/results/day365-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg

from baton.services import upgrade
from bench.floor import floor_app
from bench.harness import (
    print_rows,
    produce,
    service_environment,
    service_infrastructure,
    timed_consumer,
    write_results,
)
from bench.scoring import PARTITIONS, database_cpu_s, scoring_events
from services.scoring.models import outbox, processed_event
from services.scoring.settings import ScoringSettings
from shared.contracts import new_event_id
from shared.contracts.topics import ACTIVITY_RECORDED, LEAD_INGESTED
from shared.db import Database
from shared.kafka import ensure_topics
from shared.kafka.tracking import ProcessedEventPruner

TARGET_OVER_FRESH = 0.9
# `make bench`'s default: a fill of minutes, not the 20,000,000 rows of issue 19's own run.
DEFAULT_ROWS = 5_000_000
FLOORS = ("fresh", "history")
HISTORY_DATABASE = "history"
TABLE = f"{processed_event.schema}.{processed_event.name}"
FILL_CHUNK = 2_000_000
PRIMARY_KEY = "pk_processed_event"
# Leaf pages of a btree grown by random inserts are about ln 2 full on average (4,000,000 rows
# inserted one chunk after another under the index: 291 MB of index); built at once, a btree
# packs them 90 % full, a smaller index than production's and kinder to the cache.
GROWN_FILL = 69
# Each version's ids as the history holds them: a version-7 id carries its row's time.
_NEW_ID = {"v4": "gen_random_uuid()", "v7": "uuidv7(at - now())"}


def group_of(name: str) -> str:
    return f"bench-day365-{name}"


def database_of(database_url: str, name: str) -> str:
    """The URL of the floor's database: the cluster's `postgres` for the fresh one."""
    return database_url if name == "fresh" else database_url.replace("/postgres?", f"/{HISTORY_DATABASE}?", 1)


async def connect(database_url: str) -> asyncpg.Connection:
    host = parse_qs(urlparse(database_url).query)["host"][0]
    database = urlparse(database_url).path.lstrip("/")
    return await asyncpg.connect(host=host, user="postgres", database=database)


async def create_history_database(database_url: str) -> None:
    connection = await connect(database_url)
    try:
        await connection.execute(f"CREATE DATABASE {HISTORY_DATABASE}")
    finally:
        await connection.close()
    await asyncio.to_thread(upgrade, "scoring", database_of(database_url, "history"))


async def fill_history(database_url: str, *, rows: int, ids: str, days: float = 365.0) -> dict[str, Any]:
    """`rows` processed events of the history floor's group over the last `days`, oldest first,
    under a primary key as full as production's: version-7 ids (in time order) go in under the
    index, at its right edge, as production's do; version-4 ids grown under it took 222 s for
    4,000,000 rows, so for them it is built afterwards as full as random inserts leave it."""
    connection = await connect(database_of(database_url, "history"))
    try:
        definition = await index_definition(connection)
        started, done = time.perf_counter(), 0
        if ids == "v4":
            await connection.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT {PRIMARY_KEY}")
        step = timedelta(days=days) / max(rows, 1)
        # Chunks: one statement of tens of millions of rows would hold one transaction for minutes.
        while done < rows:
            chunk = min(FILL_CHUNK, rows - done)
            await connection.execute(
                f"INSERT INTO {TABLE} (consumer, event_id, processed_at) SELECT $1, {_NEW_ID[ids]}, at "
                "FROM (SELECT now() - $4::interval + $5::interval * ($2 + n) AS at "
                "FROM generate_series(1, $3) AS n) AS times",
                group_of("history"),
                done,
                chunk,
                timedelta(days=days),
                step,
            )
            done += chunk
            print(
                f"bench.day365: {done:,} of {rows:,} rows ({time.perf_counter() - started:.0f} s)", flush=True
            )
        inserted = time.perf_counter() - started
        if ids == "v4":
            await connection.execute("SET maintenance_work_mem = '512MB'")
            await connection.execute(
                f"ALTER TABLE {TABLE} ADD CONSTRAINT {PRIMARY_KEY} PRIMARY KEY (consumer, event_id) "
                f"WITH (fillfactor = {GROWN_FILL})"
            )
            # What is left is the migrations' index, which splits its pages at the default fill.
            await connection.execute(f"ALTER INDEX {processed_event.schema}.{PRIMARY_KEY} RESET (fillfactor)")
        if await index_definition(connection) != definition:
            raise RuntimeError("the history's primary key is not the migrations' one")
        await connection.execute(f"VACUUM ANALYZE {TABLE}")
        await connection.execute("CHECKPOINT")
        return {
            "rows": rows,
            "days": days,
            "ids": ids,
            "insert_seconds": round(inserted, 1),
            "seconds": round(time.perf_counter() - started, 1),
            **await table_size(connection),
        }
    finally:
        await connection.close()


async def index_definition(connection: asyncpg.Connection) -> str:
    found: str = await connection.fetchval(
        "SELECT string_agg(pg_get_indexdef(indexrelid), '; ') FROM pg_index "
        f"WHERE indrelid = '{TABLE}'::regclass"
    )
    return found


async def table_size(connection: asyncpg.Connection) -> dict[str, Any]:
    heap, index = await connection.fetchrow(f"SELECT pg_relation_size('{TABLE}'), pg_indexes_size('{TABLE}')")
    return {"heap_mb": round(heap / 2**20), "index_mb": round(index / 2**20)}


async def floor_turn(
    database_url: str, bootstrap: str, name: str, *, round_: int, expected: int
) -> dict[str, Any]:
    """One floor over the round's `expected` events (its group resumes where it stopped), timed
    until every echo is on a topic of the round's own; with PostgreSQL's CPU meanwhile."""
    settings = ScoringSettings().model_copy(
        update={"database_url": database_of(database_url, name), "processed_event_retention_days": 0.0}
    )
    echo_topic = f"{group_of(name)}.round-{round_}"
    await ensure_topics(bootstrap, [echo_topic], partitions=PARTITIONS)
    app = floor_app(
        settings,
        outbox=outbox,
        processed=processed_event,
        topics=[LEAD_INGESTED, ACTIVITY_RECORDED],
        group=group_of(name),
        echo_topic=echo_topic,
    )
    before = database_cpu_s(database_url)
    figures = await timed_consumer(app, echo_topic, expected)
    database_cpu = database_cpu_s(database_url) - before
    events = int(figures["events"])
    return {
        **figures,
        "database_cpu_s": round(database_cpu, 2),
        "process_cpu_ms": round(1000 * float(figures["process_cpu_s"]) / events, 4),
        "database_cpu_ms": round(1000 * database_cpu / events, 4),
    }


async def measure_rounds(
    database_url: str, bootstrap: str, *, rounds: int, leads: int, ids: str
) -> list[dict[str, Any]]:
    """Round 0 warms both floors up (their groups join, their caches fill) and is not counted.
    Events get version-4 ids when `ids` says so (what `Envelope.new` made before version 7)."""
    found: list[dict[str, Any]] = []
    for number in range(rounds + 1):
        events = scoring_events(leads, seed=11 + number)
        if ids == "v4":
            events = [event.model_copy(update={"event_id": uuid.uuid4()}) for event in events]
        await produce(bootstrap, events, client_id="bench-day365")
        order = FLOORS if number % 2 == 0 else FLOORS[::-1]
        turn: dict[str, Any] = {"round": number, "first": order[0]}
        for name in order:
            turn[name] = await floor_turn(database_url, bootstrap, name, round_=number, expected=len(events))
        print(
            f"bench.day365: round {number}{' (warm-up)' if number == 0 else ''}: " + _line(turn), flush=True
        )
        if number:
            found.append({**turn, **round_ratios(turn)})
    return found


def round_ratios(turn: dict[str, Any]) -> dict[str, float]:
    fresh, history = turn["fresh"], turn["history"]

    def cpu(run: dict[str, Any]) -> float:
        return float(run["process_cpu_ms"]) + float(run["database_cpu_ms"])

    return {
        "over_fresh": round(history["per_s"] / fresh["per_s"], 3),
        "process_cpu_over_fresh": round(history["process_cpu_ms"] / fresh["process_cpu_ms"], 3),
        "database_cpu_over_fresh": round(history["database_cpu_ms"] / fresh["database_cpu_ms"], 3),
        "cpu_over_fresh": round(cpu(history) / cpu(fresh), 3),
    }


def _line(turn: dict[str, Any]) -> str:
    return ", ".join(
        f"{name} {turn[name]['per_s']}/s (CPU ms/event: process {turn[name]['process_cpu_ms']}, "
        f"PostgreSQL {turn[name]['database_cpu_ms']})"
        for name in FLOORS
    )


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of each round's own ratios, and their spread."""
    keys = ("over_fresh", "cpu_over_fresh", "process_cpu_over_fresh", "database_cpu_over_fresh")
    return {
        **{key: round(statistics.median(r[key] for r in rounds), 3) for key in keys},
        "over_fresh_range": [min(r["over_fresh"] for r in rounds), max(r["over_fresh"] for r in rounds)],
        "fresh_per_s_median": round(statistics.median(r["fresh"]["per_s"] for r in rounds)),
        "history_per_s_median": round(statistics.median(r["history"]["per_s"] for r in rounds)),
        "target_over_fresh": TARGET_OVER_FRESH,
    }


async def dedup_insert_buffers(
    database_url: str, name: str, *, ids: str, events: int = 1_000
) -> dict[str, Any]:
    """`EXPLAIN (ANALYZE, BUFFERS, WAL)` of one batch's dedup insert (new random ids, as a
    consumer batch brings), rolled back: the pages it reads, dirties and logs."""
    connection = await connect(database_of(database_url, name))
    try:
        async with connection.transaction():
            plan = await connection.fetchval(
                f"EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) INSERT INTO {TABLE} "
                f"(consumer, event_id, processed_at) SELECT $1, {_NEW_ID[ids]}, at "
                "FROM (SELECT now() AS at FROM generate_series(1, $2)) AS times ON CONFLICT DO NOTHING",
                group_of(name),
                events,
            )
            raise _RollBack
    except _RollBack:
        pass
    finally:
        await connection.close()
    top = json.loads(plan)[0]
    node = top["Plan"]
    return {
        "events": events,
        "execution_ms": round(top["Execution Time"], 2),
        **{key: node[label] for key, label in _BUFFERS.items()},
    }


class _RollBack(Exception):
    """Leaves the explained insert's transaction without its rows."""


_BUFFERS = {
    "shared_hit": "Shared Hit Blocks",
    "shared_read": "Shared Read Blocks",
    "shared_dirtied": "Shared Dirtied Blocks",
    "shared_written": "Shared Written Blocks",
    "wal_full_page_images": "WAL FPI",
    "wal_bytes": "WAL Bytes",
}


async def prune_passes(database_url: str) -> dict[str, Any]:
    """The pruner on the history: a pass deleting its oldest day, then a pass finding nothing."""
    db = Database(database_of(database_url, "history"))
    try:
        pruner = ProcessedEventPruner(
            db, processed_event, consumer=group_of("history"), retention=timedelta(days=364), interval_s=3600
        )
        passes = []
        for _ in range(2):
            started = time.perf_counter()
            deleted = await pruner.run_once()
            passes.append({"deleted": deleted, "seconds": round(time.perf_counter() - started, 2)})
        return {"oldest_day": passes[0], "nothing_due": passes[1]}
    finally:
        await db.dispose()


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    async with service_infrastructure("scoring", partitions=PARTITIONS) as (database_url, bootstrap):
        service_environment(database_url, bootstrap)
        await create_history_database(database_url)
        print(f"bench.day365: {args.rows:,} processed_event rows of history...", flush=True)
        fill = await fill_history(database_url, rows=args.rows, ids=args.ids)
        print(f"bench.day365: filled in {fill['seconds']} s: {fill}", flush=True)
        rounds = await measure_rounds(
            database_url, bootstrap, rounds=args.rounds, leads=args.leads, ids=args.ids
        )
        buffers = {name: await dedup_insert_buffers(database_url, name, ids=args.ids) for name in FLOORS}
        pruning = await prune_passes(database_url)
        connection = await connect(database_of(database_url, "history"))
        try:
            fill["after"] = await table_size(connection)
        finally:
            await connection.close()
    return {
        "history": fill,
        "events_per_round": rounds[0]["fresh"]["events"],
        "summary": summary(rounds),
        "rounds": rounds,
        "dedup_insert": buffers,
        "pruner": pruning,
    }


def print_table(results: dict[str, Any]) -> None:
    s, h = results["summary"], results["history"]
    rows: list[tuple[str, object]] = [
        ("load average (1/5/15 min)", results["load_average"]),
        (
            "history",
            f"{h['rows']:,} rows ({h['ids']} ids) over {h['days']:g} days, filled in {h['seconds']} s "
            f"(heap {h['heap_mb']} MB, index {h['index_mb']} MB)",
        ),
        ("rounds x events per floor", f"{len(results['rounds'])} x {results['events_per_round']:,}"),
        (
            "floor events/s, fresh / day 365 (medians)",
            f"{s['fresh_per_s_median']} / {s['history_per_s_median']}",
        ),
        (
            f"day 365 / fresh, events/s (target >= {TARGET_OVER_FRESH})",
            f"{s['over_fresh']} {s['over_fresh_range']}",
        ),
        ("day 365 / fresh, CPU per event (process + PostgreSQL)", s["cpu_over_fresh"]),
        (
            "  the floor's process / PostgreSQL's",
            f"{s['process_cpu_over_fresh']} / {s['database_cpu_over_fresh']}",
        ),
    ]
    for name, b in results["dedup_insert"].items():
        rows.append(
            (
                f"dedup insert of {b['events']} ids, {name}",
                f"{b['execution_ms']} ms, buffers hit {b['shared_hit']} read {b['shared_read']} "
                f"dirtied {b['shared_dirtied']}, WAL {b['wal_bytes']:,} B ({b['wal_full_page_images']} full pages)",
            ),
        )
    p = results["pruner"]
    rows.append(
        (
            "pruner: oldest day / nothing due",
            f"{p['oldest_day']['deleted']:,} rows in {p['oldest_day']['seconds']} s / {p['nothing_due']['seconds']} s",
        )
    )
    print_rows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.day365", description=__doc__)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="processed_event rows of history")
    parser.add_argument("--rounds", type=int, default=8, help="counted rounds (after one warm-up round)")
    parser.add_argument("--leads", type=int, default=3_000, help="leads per round (four events each)")
    parser.add_argument(
        "--ids",
        choices=["v4", "v7"],
        default=f"v{new_event_id().version}",
        help="the event ids of the history and of the events (default: the version Envelope.new makes)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    results = asyncio.run(measure(args))
    path = write_results(args.out, "day365", results)
    print_table(results)
    print(f"bench.day365: wrote {path}")


if __name__ == "__main__":
    main()
