"""The consumer groups one service process reads in.

A service reads its topics in one group, or in more when its `TOPOLOGY` entry names lanes: work
that can wait (a read model, sending out) then runs in a group of its own, with its own fetch
loop, so it never queues in front of work a clock runs on. Each group has its own dead-letter
topic and its own `processed_event` rows (keyed by group), so the guarantees hold per group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import timedelta

from sqlalchemy import Table

from shared.contracts.topics import (
    TOPOLOGY,
    consumer_group,
    dead_letter_topic,
    patient_groups,
    split_into_groups,
)
from shared.db import Database
from shared.kafka import EventConsumer, EventHandler
from shared.kafka.lead_keys import LeadKeyReader
from shared.kafka.tracking import ProcessedEventPruner
from shared.settings import ServiceSettings


def group_handlers(
    settings: ServiceSettings, handlers: Mapping[str, EventHandler]
) -> dict[str, tuple[str, dict[str, EventHandler]]]:
    """Each group (main first) with its dead-letter topic and the handlers of its topics."""
    lanes = TOPOLOGY[settings.service_name].lanes if settings.service_name in TOPOLOGY else ()
    # Dead letters go to the topics named after the service's own groups, which exist even when
    # a test or a bench reads in a group of its own (`consumer_group_id`).
    own = split_into_groups(consumer_group(settings.service_name), handlers, lanes)
    groups = split_into_groups(settings.consumer_group, handlers, lanes)
    return {
        group: (dead_letter_topic(own_group), {topic: handlers[topic] for topic in sorted(topics)})
        for (group, topics), own_group in zip(groups.items(), own, strict=True)
    }


def fetch_max_wait_ms(settings: ServiceSettings, group: str) -> int:
    """How long the broker may hold `group`'s empty fetches: patiently where its work can wait."""
    if settings.service_name in TOPOLOGY and group in patient_groups(
        settings.service_name, settings.consumer_group
    ):
        return settings.consumer_patient_fetch_max_wait_ms
    return settings.consumer_fetch_max_wait_ms


def build_consumers(
    settings: ServiceSettings,
    handlers: Mapping[str, EventHandler],
    *,
    db: Database,
    processed: Table,
    on_rebalance: Callable[[], None] | None = None,
    lead_keys: LeadKeyReader | None = None,
) -> list[EventConsumer]:
    """One consumer per group; `on_rebalance` hears of every group's partitions changing hands,
    and every group opens events with the process's one `lead_keys` reader."""
    s = settings
    return [
        EventConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=group,
            dead_letter_to=dead_letters,
            handlers=handlers_of_group,
            db=db,
            processed_table=processed,
            max_attempts=s.consumer_max_attempts,
            retry_backoff_s=s.consumer_retry_backoff_s,
            session_timeout_ms=s.consumer_session_timeout_ms,
            fetch_max_wait_ms=fetch_max_wait_ms(settings, group),
            security=s.kafka_security,
            on_rebalance=on_rebalance,
            lead_keys=lead_keys,
        )
        for group, (dead_letters, handlers_of_group) in group_handlers(settings, handlers).items()
    ]


def build_pruners(
    settings: ServiceSettings, consumers: list[EventConsumer], *, db: Database, processed: Table
) -> list[ProcessedEventPruner]:
    """One pruner of `processed_event` per group (none when retention is off)."""
    if settings.processed_event_retention_days <= 0:
        return []
    pruners = []
    for consumer in consumers:
        pruner = ProcessedEventPruner(
            db,
            processed,
            consumer=consumer.group_id,
            retention=timedelta(days=settings.processed_event_retention_days),
            interval_s=settings.processed_event_prune_interval_s,
        )
        if consumer is not consumers[0]:
            pruner.name = f"{pruner.name}:{consumer.group_id}"
        pruners.append(pruner)
    return pruners


async def stop_consumers(consumers: list[EventConsumer], *, timeout_s: float) -> None:
    await asyncio.gather(*(consumer.stop(timeout_s=timeout_s) for consumer in consumers))


def consumer_checks(consumers: list[EventConsumer]) -> dict[str, str]:
    """`/readyz` parts: `consumer` for the main group, `consumer:<group>` for a lane's."""
    return {
        "consumer" if index == 0 else f"consumer:{consumer.group_id}": consumer_state(consumer)
        for index, consumer in enumerate(consumers)
    }


def consumer_state(consumer: EventConsumer) -> str:
    stuck_for = consumer.watch.stuck_for
    if not consumer.healthy:
        return "stopped"
    if stuck_for is not None:
        return f"stuck: one pass has run for {stuck_for:.0f} s"
    if not consumer.connected:
        return "connecting"
    return "ok" if consumer.has_partitions else "joining group"
