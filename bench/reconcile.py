"""What `bench.chaos` observes on the wire, and the reconciliation of the databases and topics."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.faults import Fault
from bench.stats import percentile, summary_ms
from bench.system import RunningBaton

LATE_S = 2.0
RECOVERY_BIN_S = 2.0


@dataclass
class Observed:
    sent: dict[str, float] = field(default_factory=dict)
    http_errors: list[tuple[float, str]] = field(default_factory=list)
    arrivals: dict[str, float] = field(default_factory=dict)
    assignment_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    assigned_deliveries: int = 0


async def watch_assigned(bootstrap: str, seen: Observed, stop: asyncio.Event) -> None:
    """Reads `lead.assigned` without a group (no rebalances to ride out during a freeze)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer.topics()
        partitions = consumer.partitions_for_topic("lead.assigned") or set()
        consumer.assign([TopicPartition("lead.assigned", p) for p in partitions])
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value or b"{}")
                    lead = str(event.get("lead_id"))
                    seen.assigned_deliveries += 1
                    seen.arrivals.setdefault(lead, now)
                    seen.assignment_ids[lead].add(str(event.get("payload", {}).get("assignment_id")))
    finally:
        await consumer.stop()


async def read_events(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every event on `topic`, read from the start up to its end offsets, without a group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    events: list[dict[str, Any]] = []
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                events.extend(json.loads(record.value or b"{}") for record in records)
    finally:
        await consumer.stop()
    return events


async def qualified_event_ids(bootstrap: str) -> dict[str, set[str]]:
    """Every `lead.qualified` event id per lead, read from the start of the topic."""
    found: dict[str, set[str]] = defaultdict(set)
    for event in await read_events(bootstrap, "lead.qualified"):
        found[str(event.get("lead_id"))].add(str(event.get("event_id")))
    return found


async def connect(baton: RunningBaton) -> asyncpg.Connection:
    host = parse_qs(urlparse(baton.local["database_url"]).query)["host"][0]
    return await asyncpg.connect(host=host, user="postgres", database="postgres")


async def feedback_counted(baton: RunningBaton, leads: list[str]) -> bool:
    """True once feedback has every lead ingested, qualified and assigned."""
    conn = await connect(baton)
    try:
        done = await conn.fetchval(
            "SELECT count(*) FROM feedback.lead_fact WHERE lead_id = ANY($1) AND ingested_at IS NOT NULL "
            "AND mql_at IS NOT NULL AND assigned_at IS NOT NULL",
            [uuid.UUID(lead) for lead in leads],
        )
    finally:
        await conn.close()
    return bool(done == len(leads))


async def reconcile(baton: RunningBaton, seen: Observed) -> dict[str, Any]:
    accepted = [uuid.UUID(lead) for lead in seen.sent]
    conn = await connect(baton)
    try:

        async def leads(sql: str) -> set[str]:
            return {str(row[0]) for row in await conn.fetch(sql, accepted)}

        stored = await leads("SELECT DISTINCT lead_id FROM ingest.submission WHERE lead_id = ANY($1)")
        scored = await leads("SELECT DISTINCT lead_id FROM scoring.score WHERE lead_id = ANY($1)")
        mql = await leads(
            "SELECT lead_id FROM scoring.lead_profile WHERE qualified_at IS NOT NULL AND lead_id = ANY($1)"
        )
        per_lead = await conn.fetch(
            "SELECT lead_id, count(*) AS n FROM routing.assignment WHERE lead_id = ANY($1) GROUP BY lead_id",
            accepted,
        )
        timers = await conn.fetch(
            "SELECT a.id, count(t.id) AS n FROM routing.assignment a "
            "LEFT JOIN routing.sla_timer t ON t.assignment_id = a.id WHERE a.lead_id = ANY($1) GROUP BY a.id",
            accepted,
        )
        funnel = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE ingested_at IS NOT NULL) AS ingested, "
            "count(*) FILTER (WHERE mql_at IS NOT NULL) AS mql, "
            "count(*) FILTER (WHERE assigned_at IS NOT NULL) AS assigned "
            "FROM feedback.lead_fact WHERE lead_id = ANY($1)",
            accepted,
        )
        unacknowledged = await conn.fetchval(
            "SELECT count(DISTINCT lead_id) FROM ingest.submission WHERE NOT (lead_id = ANY($1))", accepted
        )
    finally:
        await conn.close()
    assigned = {str(row["lead_id"]) for row in per_lead}
    qualified = await qualified_event_ids(baton.local["kafka_bootstrap_servers"])
    ours = set(seen.sent)
    return {
        "accepted": len(ours),
        "stored_by_ingest": len(stored),
        "scored": len(scored),
        "mql": len(mql),
        "assigned": len(assigned),
        "lost": {
            "not_stored": len(ours - stored),
            "not_scored": len(ours - scored),
            "not_qualified": len(ours - mql),
            "mql_not_assigned": len(mql - assigned),
            "not_on_lead_assigned_topic": len(ours - seen.arrivals.keys()),
        },
        "duplicated": {
            "assignment_rows": sum(1 for row in per_lead if row["n"] > 1),
            "assignment_ids_on_topic": sum(1 for lead in ours if len(seen.assignment_ids.get(lead, ())) > 1),
            "qualified_event_ids": sum(1 for lead in ours if len(qualified.get(lead, ())) > 1),
            # Not duplicates: a reassignment after an SLA breach re-announces the same assignment
            # id, and a relay killed between publish and mark re-publishes; consumers absorb both.
            "lead_assigned_extra_messages": seen.assigned_deliveries - len(seen.arrivals),
        },
        "sla_timers": {
            "assignments_without_timer": sum(1 for row in timers if row["n"] == 0),
            "assignments_with_several": sum(1 for row in timers if row["n"] > 1),
        },
        "funnel": {
            "feedback": dict(funnel or {}),
            "sources": {"ingested": len(stored), "mql": len(mql), "assigned": len(assigned)},
            "matches": dict(funnel or {})
            == {"ingested": len(stored), "mql": len(mql), "assigned": len(assigned)},
        },
        "stored_without_202": unacknowledged,
    }


def baseline_p95_s(faults: list[Fault], seen: Observed) -> float | None:
    """The p95 end-to-end latency of the leads posted before the first fault."""
    first = faults[0].started_at if faults else float("inf")
    latencies = [
        seen.arrivals[lead] - at for lead, at in seen.sent.items() if at < first and lead in seen.arrivals
    ]
    return percentile(latencies, 95)


def recovery_s(
    seen: Observed, *, since: float, until: float, threshold_s: float, bin_s: float = RECOVERY_BIN_S
) -> float | None:
    """Seconds from `since` (the fault's end) until latency is back under `threshold_s` for good.

    Posts are grouped by send time into `bin_s` bins; a bin is healthy when its p95 (a lead never
    assigned counts as infinitely late) is under the threshold. Recovered at the start of the
    first bin after which every bin is healthy; None when the window ends unhealthy. A p95 per
    bin rather than every lead, so that one slow lead on a busy machine is not an outage.
    """
    bins: dict[int, list[float]] = defaultdict(list)
    for lead, at in seen.sent.items():
        if since <= at < until:
            bins[int((at - since) // bin_s)].append(seen.arrivals.get(lead, float("inf")) - at)
    if not bins:
        return None
    healthy_from = 0
    for index in sorted(bins):
        if (percentile(bins[index], 95) or 0.0) > threshold_s:
            healthy_from = index + 1
    if healthy_from > max(bins):
        return None
    return round(healthy_from * bin_s, 2)


def per_fault(
    faults: list[Fault], seen: Observed, t0: float, load_end: float, *, threshold_s: float
) -> list[dict[str, Any]]:
    """Per fault: the leads posted from its start to the next fault, how many were late, when
    the last late one was assigned, and the recovery time (see `recovery_s`), judged on the
    posts that a healthy system would have assigned before the next fault began."""
    rows = []
    for i, fault in enumerate(faults):
        window_end = faults[i + 1].started_at if i + 1 < len(faults) else load_end
        window = [
            (lead, at) for lead, at in seen.sent.items() if fault.started_at - LATE_S <= at < window_end
        ]
        latencies = [seen.arrivals[lead] - at for lead, at in window if lead in seen.arrivals]
        late = [
            (lead, at)
            for lead, at in window
            if lead not in seen.arrivals or seen.arrivals[lead] - at > LATE_S
        ]
        last_late = max((seen.arrivals.get(lead, load_end) for lead, _ in late), default=fault.started_at)
        errors = [e for e in seen.http_errors if fault.started_at - t0 <= e[0] < window_end - t0]
        rows.append(
            {
                **asdict(fault),
                "started_at": round(fault.started_at - t0, 2),
                "ended_at": round(fault.ended_at - t0, 2),
                "posted_in_window": len(window),
                "http_errors_in_window": len(errors),
                "late": len(late),
                "late_cleared_s": round(max(0.0, last_late - fault.started_at), 2),
                # Posts sent later than this may be caught by the next fault however healthy.
                "recovery_s": recovery_s(
                    seen, since=fault.ended_at, until=window_end - threshold_s, threshold_s=threshold_s
                ),
                "latency": summary_ms(latencies),
            }
        )
    return rows
