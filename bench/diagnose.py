"""What each service was doing when a run did not drain: readiness, consumer lag, log warnings.

A chaos run that gives up draining says only that some count fell short; these figures say which
consumer group stopped (lag that does not move), whether its service still reports ready, and the
warnings and errors it logged, so a failure on a CI machine can be read without its logs.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.system import SERVICES, RunningBaton
from shared.contracts.topics import consumer_group, consumer_groups

LOG_LINES = 25
LINE_CHARS = 2000
# A warning logged more often than this is counted, not quoted.
FREQUENT = 20


async def consumer_lag(bootstrap: str, group: str) -> dict[str, int] | str:
    """Per topic, how many messages the group's committed offsets are behind the log end.

    Read through a member that never joins the group (no subscription), so asking changes
    nothing; topics the group has no committed offset on are left out.
    """
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        await reader.start()
        topics = [t for t in await reader.topics() if not t.endswith(".dlq")]
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in reader.partitions_for_topic(topic) or ()
        ]
        ends = await reader.end_offsets(partitions)
        lag: dict[str, int] = {}
        for tp in partitions:
            committed = await reader.committed(tp)
            if committed is not None:
                lag[tp.topic] = lag.get(tp.topic, 0) + max(0, ends[tp] - committed)
        return {topic: n for topic, n in sorted(lag.items()) if n}
    except Exception as exc:  # a diagnosis must not hide the result it explains
        return f"unknown: {type(exc).__name__}: {exc}"
    finally:
        await reader.stop()


async def readiness(baton: RunningBaton, service: str) -> Any:
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get(f"{baton.url(service)}/readyz")).json()
    except (httpx.HTTPError, ValueError) as exc:
        return f"unreachable: {type(exc).__name__}"


def log_warnings(baton: RunningBaton, service: str) -> dict[str, Any]:
    """How often each warning or error was logged, and the last lines of the rarer ones.

    The services log JSON lines. What repeats many times (the broker client's connection errors
    during a fault, routing's SLA breaches under load) is only counted, so it cannot crowd the
    lines that say why a consumer stopped out of the report.
    """
    path = baton.home / "logs" / f"{service}.log"
    if not path.exists():
        return {}
    serious: list[tuple[str, str]] = []
    for line in path.read_text(errors="replace").splitlines():
        if '"level": "warning"' not in line and '"level": "error"' not in line:
            continue
        try:
            record = json.loads(line)
            name = f"{record.get('logger')}: {record.get('event')}"
        except ValueError:
            name = "unparsed"
        serious.append((name, line))
    counts = Counter(name for name, _ in serious)
    # A stuck consumer pass's line carries every task's await chain: it is the diagnosis, whole.
    rare = [
        line if "consumer_pass_stuck" in name else line[:LINE_CHARS]
        for name, line in serious
        if counts[name] <= FREQUENT
    ]
    return {"counts": dict(counts.most_common()), "last_rare": rare[-LOG_LINES:]}


async def diagnose(baton: RunningBaton) -> dict[str, Any]:
    """Each service's readiness, its consumer group's lag (twice, 5 s apart: moving or stuck?)
    and the last warnings and errors in its log."""
    bootstrap = baton.local["kafka_bootstrap_servers"]
    groups = {service: list(consumer_groups(service)) or [consumer_group(service)] for service in SERVICES}
    first = {g: await consumer_lag(bootstrap, g) for gs in groups.values() for g in gs}
    await asyncio.sleep(5)
    report: dict[str, Any] = {}
    for service, (group, *lanes) in groups.items():
        report[service] = {
            "ready": await readiness(baton, service),
            "lag": first[group],
            "lag_5s_later": await consumer_lag(bootstrap, group),
            "log_warnings": log_warnings(baton, service),
        }
        # A lane's group (routing's followup) lags on its own.
        for lane in lanes:
            report[service][f"lag:{lane}"] = [first[lane], await consumer_lag(bootstrap, lane)]
    return report
