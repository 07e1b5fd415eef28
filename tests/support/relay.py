"""An outbox relay on ingest's outbox table, started and caught up, for the relay's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from services.ingest.models import outbox
from shared.db import Database
from shared.kafka import create_producer
from shared.outbox_relay import OutboxRelay
from tests.support.waiting import wait_until


@asynccontextmanager
async def running_relay(
    db: Database,
    bootstrap_servers: str,
    *,
    client_id: str,
    producer: dict[str, Any] | None = None,
    **relay: Any,
) -> AsyncIterator[OutboxRelay]:
    """A relay whose first poll (for rows a previous test left) is done; `producer` and `relay`
    are keyword arguments for `create_producer` and `OutboxRelay`."""
    kafka = create_producer(bootstrap_servers, client_id=client_id, **(producer or {}))
    await kafka.start()
    running = OutboxRelay(db=db, table=outbox, producer=kafka, service="test", **relay)
    await running.start()
    await wait_until(lambda: not running._poll_due)
    try:
        yield running
    finally:
        await running.stop()
        await kafka.stop()
