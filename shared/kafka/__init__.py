"""Kafka runtime: producer factory, topic administration and the idempotent consumer wrapper."""

from shared.kafka.admin import ensure_topics
from shared.kafka.batching import BatchingHandler, EventHandler
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import create_producer

__all__ = [
    "BatchingHandler",
    "EventConsumer",
    "EventHandler",
    "create_producer",
    "ensure_topics",
]
