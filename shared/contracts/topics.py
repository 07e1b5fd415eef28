"""Every Kafka topic Baton uses, in one place.

One topic per event type keeps consumers subscribed to exactly what they handle and lets
retention and partitioning be tuned per flow. Every event is keyed by its lead id, so a
lead's events stay in order on one partition.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, NamedTuple

LEAD_INGESTED: Final = "lead.ingested"
LEAD_SCORED: Final = "lead.scored"
LEAD_QUALIFIED: Final = "lead.qualified"
LEAD_ASSIGNED: Final = "lead.assigned"
LEAD_TOUCHED: Final = "lead.touched"
LEAD_DISPOSITIONED: Final = "lead.dispositioned"
RUBRIC_ACTIVATED: Final = "rubric.activated"
SLA_BREACHED: Final = "sla.breached"
ACTIVITY_RECORDED: Final = "activity.recorded"
LEAD_ERASED: Final = "lead.erased"
REVISION_PROPOSED: Final = "revision.proposed"

EVENT_TOPICS: Final[tuple[str, ...]] = (
    LEAD_INGESTED,
    LEAD_SCORED,
    LEAD_QUALIFIED,
    LEAD_ASSIGNED,
    LEAD_TOUCHED,
    LEAD_DISPOSITIONED,
    RUBRIC_ACTIVATED,
    SLA_BREACHED,
    ACTIVITY_RECORDED,
    LEAD_ERASED,
    REVISION_PROPOSED,
)

# Not an event topic: each lead's sealing key (raw bytes, keyed by lead id), and a tombstone
# once the lead is erased. Compacted, read whole by every consuming service (docs/erasure.md).
LEAD_KEY_CHANGED: Final = "lead.key_changed"
# Compaction keeps each lead's last record, and never touches the active segment: segments roll
# hourly and are compacted within a day, so an erased lead's key leaves the broker within about
# a day; its tombstone stays a day more for readers to see it (docs/erasure.md).
LEAD_KEY_TOPIC_CONFIG: Final[dict[str, str]] = {
    "cleanup.policy": "compact",
    "segment.ms": str(3600 * 1000),
    "min.compaction.lag.ms": "0",
    "max.compaction.lag.ms": str(24 * 3600 * 1000),
    "delete.retention.ms": str(24 * 3600 * 1000),
}
# Settings a topic is created with, where the broker's defaults do not do.
TOPIC_CONFIGS: Final[dict[str, dict[str, str]]] = {LEAD_KEY_CHANGED: LEAD_KEY_TOPIC_CONFIG}

DEAD_LETTER_SUFFIX: Final = ".dlq"


class Flow(NamedTuple):
    consumes: frozenset[str]
    produces: frozenset[str]
    # Consumed topics read in a consumer group of their own, `<service's group>-<lane>`, so work
    # that can wait (a read model, sending out) never queues in front of work a clock runs on.
    lanes: tuple[tuple[str, frozenset[str]], ...] = ()
    # The main group's work can wait as well as the lanes' (a read model): every group of the
    # service then fetches at the patient pace (`consumer_patient_fetch_max_wait_ms`).
    main_can_wait: bool = False


# Who reads and writes what: the single source for the Kafka ACLs, the KEDA triggers and the
# dead-letter topics; a unit test holds every service's handlers to it.
TOPOLOGY: Final[dict[str, Flow]] = {
    "ingest": Flow(frozenset(), frozenset({LEAD_INGESTED, ACTIVITY_RECORDED, LEAD_ERASED})),
    "scoring": Flow(
        frozenset({LEAD_INGESTED, LEAD_DISPOSITIONED, ACTIVITY_RECORDED, LEAD_ERASED, REVISION_PROPOSED}),
        frozenset({LEAD_SCORED, LEAD_QUALIFIED, RUBRIC_ACTIVATED}),
    ),
    # Routing reads its own rep-facing events back to send them out (webhooks, CRM owner), and
    # scores, forms and activities into the rep's lead brief, and the activated agreement for
    # sales' commitments. It assigns in its own group and does the rest in the `followup` lane: at
    # 100 MQL/s a qualified lead waited 2 s behind the brief's events when one loop read them all.
    "routing": Flow(
        frozenset(
            {
                LEAD_QUALIFIED,
                LEAD_ERASED,
                LEAD_ASSIGNED,
                LEAD_TOUCHED,
                LEAD_DISPOSITIONED,
                SLA_BREACHED,
                LEAD_SCORED,
                LEAD_INGESTED,
                ACTIVITY_RECORDED,
                RUBRIC_ACTIVATED,
            }
        ),
        frozenset({LEAD_ASSIGNED, LEAD_TOUCHED, LEAD_DISPOSITIONED, SLA_BREACHED}),
        lanes=(
            (
                "followup",
                frozenset(
                    {
                        LEAD_SCORED,
                        LEAD_INGESTED,
                        ACTIVITY_RECORDED,
                        LEAD_ASSIGNED,
                        LEAD_TOUCHED,
                        LEAD_DISPOSITIONED,
                        SLA_BREACHED,
                    }
                ),
            ),
        ),
    ),
    # Feedback counts the lead journey; activities only as touchpoints for revenue attribution;
    # the activated agreement for the commitments its reports measure against; an erasure to
    # forget the form's answers it kept for rule discovery. It proposes a revised agreement when
    # the funnel drifts from the signed plan; scoring opens it as a draft.
    "feedback": Flow(
        frozenset(EVENT_TOPICS) - {SLA_BREACHED, REVISION_PROPOSED},
        frozenset({REVISION_PROPOSED}),
        main_can_wait=True,
    ),
}


def consumer_group(service: str) -> str:
    return f"baton-{service}"


def lane_group(group: str, lane: str) -> str:
    return f"{group}-{lane}"


def consumer_groups(service: str, group: str | None = None) -> dict[str, frozenset[str]]:
    """Each consumer group `service` reads in, its main group (`group`, by default
    `consumer_group(service)`) first, with the topics it reads there."""
    flow = TOPOLOGY[service]
    return split_into_groups(group or consumer_group(service), flow.consumes, flow.lanes)


def patient_groups(service: str, main: str) -> frozenset[str]:
    """The groups of `service` (its main group named `main`) whose work can wait: its lanes,
    and the main group too where the service is a read model."""
    flow = TOPOLOGY[service]
    lanes = {lane_group(main, lane) for lane, _ in flow.lanes}
    return frozenset(lanes | {main} if flow.main_can_wait else lanes)


def split_into_groups(
    main: str, consumes: Iterable[str], lanes: Iterable[tuple[str, frozenset[str]]]
) -> dict[str, frozenset[str]]:
    """The main group reads what no lane does. An erasure is read in every group, since each
    forgets what it keeps, and a lane's late event must not outlive the erasure it follows."""
    consumed, lanes = frozenset(consumes), list(lanes)
    erasure = consumed & {LEAD_ERASED}
    in_lanes = frozenset[str]().union(*(topics for _, topics in lanes))
    groups = {main: consumed - in_lanes | erasure} if consumed - in_lanes - erasure else {}
    for lane, topics in lanes:
        groups[lane_group(main, lane)] = (topics & consumed) | erasure
    return groups


def topic_for(event_type: str) -> str:
    """The topic an event type is published on (one topic per event type)."""
    if event_type not in EVENT_TOPICS:
        raise KeyError(f"no topic for event type {event_type!r}")
    return event_type


def dead_letter_topic(consumer_group: str) -> str:
    """Each consumer group has its own dead-letter topic, so a replay goes back to one consumer."""
    return f"{consumer_group}{DEAD_LETTER_SUFFIX}"
