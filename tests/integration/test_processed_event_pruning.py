"""A consumer's processed_event rows are kept for the redelivery window, and no longer."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import insert, select

from services.scoring.models import processed_event
from shared.contracts import utc_now
from shared.db import Database
from shared.kafka.tracking import ProcessedEventPruner


async def rows_of(db: Database) -> set[tuple[str, uuid.UUID]]:
    async with db.transaction() as session:
        found = await session.execute(select(processed_event.c.consumer, processed_event.c.event_id))
    return {(row.consumer, row.event_id) for row in found}


class TestProcessedEventPruner:
    async def test_only_the_consumers_rows_past_the_window_are_deleted(self, db: Database) -> None:
        now = utc_now()
        expired = [("scoring", uuid.uuid4(), now - timedelta(days=9)) for _ in range(5)]
        recent = [("scoring", uuid.uuid4(), now - timedelta(days=7))]
        others = [("someone-else", uuid.uuid4(), now - timedelta(days=30))]
        async with db.transaction() as session:
            await session.execute(
                insert(processed_event),
                [
                    {"consumer": c, "event_id": e, "processed_at": at}
                    for c, e, at in [*expired, *recent, *others]
                ],
            )
        pruner = ProcessedEventPruner(
            db, processed_event, consumer="scoring", retention=timedelta(days=8), interval_s=3600
        )
        pruner.chunk = 2  # several chunks, the last one short

        assert await pruner.run_once() == 5
        assert await rows_of(db) == {(c, e) for c, e, _ in [*recent, *others]}
