"""Every Kafka topic Baton uses, in one place.

One topic per event type keeps consumers subscribed to exactly what they handle and lets
retention and partitioning be tuned per flow. Every event is keyed by its lead id, so a
lead's events stay in order on one partition.
"""

from __future__ import annotations

from typing import Final

LEAD_INGESTED: Final = "lead.ingested"
LEAD_SCORED: Final = "lead.scored"
LEAD_QUALIFIED: Final = "lead.qualified"
LEAD_ASSIGNED: Final = "lead.assigned"
LEAD_DISPOSITIONED: Final = "lead.dispositioned"

EVENT_TOPICS: Final[tuple[str, ...]] = (
    LEAD_INGESTED,
    LEAD_SCORED,
    LEAD_QUALIFIED,
    LEAD_ASSIGNED,
    LEAD_DISPOSITIONED,
)

DEAD_LETTER_SUFFIX: Final = ".dlq"


def topic_for(event_type: str) -> str:
    """The topic an event type is published on (one topic per event type)."""
    if event_type not in EVENT_TOPICS:
        raise KeyError(f"no topic for event type {event_type!r}")
    return event_type


def dead_letter_topic(consumer_group: str) -> str:
    """Each consumer group has its own dead-letter topic, so a replay goes back to one consumer."""
    return f"{consumer_group}{DEAD_LETTER_SUFFIX}"
