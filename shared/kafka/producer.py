"""The one way Baton builds a Kafka producer."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from shared.kafka.security import PLAINTEXT, KafkaSecurity
from shared.partitioner import KeyPartitioner

# Headroom over Kafka's 1 MB default so a dead-lettered message keeps its original value.
MAX_REQUEST_BYTES = 8 * 1024 * 1024


def create_producer(
    bootstrap_servers: str, *, client_id: str, security: KafkaSecurity = PLAINTEXT
) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas.

    Idempotence stays off: not every Kafka-protocol broker offers InitProducerId (the embedded
    broker does not). Duplicates from retries are absorbed by idempotent consumers instead.
    """
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        partitioner=KeyPartitioner(),
        max_request_size=MAX_REQUEST_BYTES,
        request_timeout_ms=15000,
        **security.client_options(),
    )
