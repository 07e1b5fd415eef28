"""Routing replicas for the routing bench: each is a spawned process with its own interpreter,
engine and event loop, running the real use cases or the real SLA worker."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from services.routing import batch
from services.routing.assignment import assign_lead
from services.routing.policy import SlaPolicy
from services.routing.rule_versions import ActiveRules
from services.routing.rules import load_rule_set
from services.routing.worker import RoutingWorker
from shared.contracts import LeadQualified, LeadQualifiedPayload, LeadSnapshot, utc_now
from shared.db import Database

# The packaged default rules, as a routing replica configured with none decides.
RULES = ActiveRules(load_rule_set())

REPLICAS = 2


def qualified(*, sla_minutes: int = 60) -> LeadQualified:
    lead_id = uuid.uuid4()
    return LeadQualified.new(
        lead_id=lead_id,
        producer="bench",
        payload=LeadQualifiedPayload(
            rubric_version="bench",
            score=80.0,
            grade="A",
            reason="threshold",
            sla_tier="hot",
            sla_minutes=sla_minutes,
            qualified_at=utc_now(),
            lead=LeadSnapshot(email=f"{lead_id}@bench.example", company="Bench"),
        ),
    )


async def assign_leads(
    url: str, *, sessions: int, seconds: float | None, leads: int | None, batch_size: int = 1
) -> dict[str, Any]:
    """Assign leads from `sessions` concurrent sessions, for `seconds` or until `leads` are done:
    one `assign_lead` transaction per lead, or with `batch_size` > 1 one `batch.assign_leads`
    transaction per `batch_size` leads (a consumer's batch). Latencies are per transaction."""
    db = Database(url, pool_size=sessions)
    latencies: list[float] = []
    decisions = 0
    remaining = leads
    deadline = time.perf_counter() + seconds if seconds is not None else None

    async def session_loop() -> None:
        nonlocal remaining, decisions
        while True:
            if deadline is not None and time.perf_counter() >= deadline:
                return
            size = batch_size
            if remaining is not None:
                if remaining <= 0:
                    return
                size = min(size, remaining)
                remaining -= size
            # Events are built before the clock starts: in the service they arrive parsed.
            events = [qualified() for _ in range(size)]
            started = time.perf_counter()
            async with db.transaction() as session:
                if batch_size == 1:
                    results = [(await assign_lead(session, rules=RULES, event=events[0])).result]
                else:
                    results = [
                        o.result for o in await batch.assign_leads(session, rules=RULES, events=events)
                    ]
            if any(result != "assigned" for result in results):
                raise RuntimeError(f"bench leads were {sorted(set(results))}")
            latencies.append(time.perf_counter() - started)
            decisions += size

    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        await asyncio.gather(*(session_loop() for _ in range(sessions)))
    finally:
        await db.dispose()
    return {
        "decisions": decisions,
        "elapsed_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu_started,
        "latencies": latencies,
    }


async def run_worker(
    url: str, *, interval_s: float, batch_size: int, policy: SlaPolicy, stop: Any
) -> dict[str, Any]:
    db = Database(url, pool_size=4)
    worker = RoutingWorker(db, RULES, interval_s=interval_s, batch_size=batch_size, policy=policy)
    await worker.start()
    try:
        while not stop.is_set():
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
        await db.dispose()
    return {}


def _replica(job: str, kwargs: dict[str, Any], results: Any, stop: Any = None) -> None:
    """Entry point of a replica process (spawned: a fresh interpreter, engine and event loop)."""
    # One warning line per breach would flood the terminal; the bench counts them itself.
    logging.basicConfig(level=logging.ERROR)
    jobs: dict[str, Callable[..., Coroutine[Any, Any, dict[str, Any]]]] = {
        "assign": assign_leads,
        "worker": run_worker,
    }
    if stop is not None:
        kwargs = {**kwargs, "stop": stop}
    # As a service does once it has started (shared.runtime): what start-up built is kept out of
    # every full collection's walk.
    gc.freeze()
    results.put(asyncio.run(jobs[job](**kwargs)))


def in_replicas(job: str, kwargs: dict[str, Any], *, stop: Any = None) -> tuple[list[Any], Any]:
    """Start `job` in REPLICAS processes; returns them and the queue their results arrive on."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=_replica, args=(job, kwargs, results, stop)) for _ in range(REPLICAS)]
    for process in processes:
        process.start()
    return processes, results


def collect(processes: list[Any], results: Any, *, timeout_s: float) -> list[dict[str, Any]]:
    collected = [results.get(timeout=timeout_s) for _ in processes]
    for process in processes:
        process.join(30)
        if process.exitcode != 0:
            raise RuntimeError(f"a replica process exited with {process.exitcode}")
    return collected
