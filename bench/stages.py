"""Where a lead's time goes between the form post and `lead.assigned`, from the services' own rows.

Each hop leaves timestamps in PostgreSQL: an outbox row is staged (`created_at`, the event's
time) and marked sent once the broker acknowledged it (`sent_at`); the next consumer records
the event when it starts handling it (`processed_event.processed_at`). The differences are
the relay's share (staged -> acknowledged), the broker-and-fetch share (acknowledged -> picked
up) and the handling share (picked up -> next event staged), hop by hop.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg

from bench.stats import summary_ms

_QUERY = """
WITH ingested AS (
    SELECT key, event_id, created_at, sent_at FROM ingest.outbox
    WHERE event_type = 'lead.ingested' AND key = ANY($1::text[])
), qualified AS (
    SELECT key, event_id, created_at, sent_at FROM scoring.outbox
    WHERE event_type = 'lead.qualified' AND key = ANY($1::text[])
), assigned AS (
    SELECT key, created_at, sent_at FROM routing.outbox
    WHERE event_type = 'lead.assigned' AND key = ANY($1::text[])
)
SELECT
    i.created_at AS accepted,
    i.sent_at AS ingested_sent,
    sp.processed_at AS scoring_picked,
    q.created_at AS qualified_staged,
    q.sent_at AS qualified_sent,
    rp.processed_at AS routing_picked,
    a.created_at AS assigned_staged,
    a.sent_at AS assigned_sent
FROM ingested i
JOIN scoring.processed_event sp ON sp.event_id = i.event_id
JOIN qualified q ON q.key = i.key
JOIN routing.processed_event rp ON rp.event_id = q.event_id
JOIN assigned a ON a.key = i.key
"""

STAGES = (
    ("ingest relay (staged -> acked)", "accepted", "ingested_sent"),
    ("to scoring (acked -> picked up)", "ingested_sent", "scoring_picked"),
    ("scoring (picked up -> qualified staged)", "scoring_picked", "qualified_staged"),
    ("scoring relay (staged -> acked)", "qualified_staged", "qualified_sent"),
    ("to routing (acked -> picked up)", "qualified_sent", "routing_picked"),
    ("routing (picked up -> assigned staged)", "routing_picked", "assigned_staged"),
    ("routing relay (staged -> acked)", "assigned_staged", "assigned_sent"),
)


async def stage_delays(host: str, lead_ids: Iterable[str]) -> dict[str, Any]:
    """Each stage's delay (p50/p95/p99 ms) over the leads that went all the way."""
    connection = await asyncpg.connect(host=host, user="postgres", database="postgres")
    try:
        rows = await connection.fetch(_QUERY, list(lead_ids))
    finally:
        await connection.close()
    figures: dict[str, Any] = {"leads": len(rows)}
    for name, start, end in STAGES:
        # A row the relay has not marked sent yet (a lead still in flight at the end) has no delay.
        delays = [(row[end] - row[start]).total_seconds() for row in rows if row[end] and row[start]]
        figures[name] = summary_ms(delays)
    return figures
