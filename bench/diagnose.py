"""What each service was doing when a run did not drain: readiness, consumer lag, log warnings.

A chaos run that gives up draining says only that some count fell short; these figures say which
consumer group stopped (lag that does not move), whether its service still reports ready, and the
warnings and errors it logged, so a failure on a CI machine can be read without its logs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.system import SERVICES, RunningBaton
from shared.contracts.topics import consumer_group

LOG_LINES = 25


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


def log_warnings(baton: RunningBaton, service: str) -> list[str]:
    path = baton.home / "logs" / f"{service}.log"
    if not path.exists():
        return []
    # The services log JSON lines; the broker client's own connection errors repeat many times
    # a second during a fault and would crowd out the service's own warnings, so they are counted.
    lines = path.read_text(errors="replace").splitlines()
    serious = [line for line in lines if '"level": "warning"' in line or '"level": "error"' in line]
    client_noise = [line for line in serious if '"logger": "aiokafka' in line]
    own = [line[:300] for line in serious if '"logger": "aiokafka' not in line]
    return [*own[-LOG_LINES:], f"(and {len(client_noise)} warnings or errors from aiokafka)"]


async def diagnose(baton: RunningBaton) -> dict[str, Any]:
    """Each service's readiness, its consumer group's lag (twice, 5 s apart: moving or stuck?)
    and the last warnings and errors in its log."""
    bootstrap = baton.local["kafka_bootstrap_servers"]
    groups = {service: consumer_group(service) for service in SERVICES}
    first = {s: await consumer_lag(bootstrap, g) for s, g in groups.items()}
    await asyncio.sleep(5)
    report: dict[str, Any] = {}
    for service, group in groups.items():
        report[service] = {
            "ready": await readiness(baton, service),
            "lag": first[service],
            "lag_5s_later": await consumer_lag(bootstrap, group),
            "log_warnings": log_warnings(baton, service),
        }
    return report
