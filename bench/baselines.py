"""Raw baselines measured in the same run: broker passthrough and Postgres transactions."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer

from shared.kafka import create_producer, ensure_topics


async def broker_passthrough(bootstrap: str, *, messages: int = 20_000, size: int = 600) -> dict[str, float]:
    """Produce `messages` to a topic, consume them and produce each to a second topic: the
    same shape of work as a consumer that emits one event per event it reads."""
    source, sink = f"bench-in-{uuid.uuid4().hex[:6]}", f"bench-out-{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, [source, sink], partitions=6)
    producer = create_producer(bootstrap, client_id="bench")
    await producer.start()
    value = b"x" * size
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(source, value=value, key=str(i % 500).encode()) for i in range(messages)
        ]
        await asyncio.gather(*futures)
        produce_s = time.perf_counter() - started

        consumer = AIOKafkaConsumer(
            source,
            bootstrap_servers=bootstrap,
            group_id=f"bench-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=2000,
            heartbeat_interval_ms=400,
        )
        await consumer.start()
        seen = 0
        started = time.perf_counter()
        pending = []
        while seen < messages:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            for records in batches.values():
                for record in records:
                    pending.append(await producer.send(sink, value=record.value, key=record.key))
                seen += len(records)
            await consumer.commit()
        await asyncio.gather(*pending)
        passthrough_s = time.perf_counter() - started
        await consumer.stop()
    finally:
        await producer.stop()
    return {
        "produce_per_s": round(messages / produce_s),
        "passthrough_per_s": round(messages / passthrough_s),
    }


async def postgres_transactions(
    dsn_host: str, *, connections: int = 16, duration_s: float = 5.0
) -> dict[str, float]:
    """Single-row INSERT transactions per second with `connections` asyncpg connections."""
    pool = await asyncpg.create_pool(
        host=dsn_host, user="postgres", database="postgres", min_size=connections, max_size=connections
    )
    try:
        await pool.execute("CREATE TABLE IF NOT EXISTS public.bench_tx (id bigserial PRIMARY KEY, body text)")
        count = 0
        deadline = time.perf_counter() + duration_s

        async def worker() -> None:
            nonlocal count
            async with pool.acquire() as conn:
                while time.perf_counter() < deadline:
                    async with conn.transaction():
                        await conn.execute("INSERT INTO public.bench_tx (body) VALUES ($1)", "x" * 200)
                    count += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
        await pool.execute("DROP TABLE public.bench_tx")
    finally:
        await pool.close()
    return {"transactions_per_s": round(count / elapsed)}
