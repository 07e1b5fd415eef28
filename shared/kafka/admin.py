"""Topic administration: create what is missing, leave what exists alone."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.contracts.topics import TOPIC_CONFIGS
from shared.kafka.security import PLAINTEXT, KafkaSecurity

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int,
    replication_factor: int = 1,
    security: KafkaSecurity = PLAINTEXT,
    configs: Mapping[str, Mapping[str, str]] = TOPIC_CONFIGS,
) -> list[str]:
    """Create the topics that do not exist yet (with their `configs`, e.g. the compacted key
    topic's); returns the names it created."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="baton-admin", **security.client_options()
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        t,
                        num_partitions=partitions,
                        replication_factor=replication_factor,
                        topic_configs=dict(configs.get(t, {})),
                    )
                    for t in missing
                ]
            )
            log.info("kafka.topics_created", extra={"topics": missing, "partitions": partitions})
        return missing
    finally:
        await admin.close()
