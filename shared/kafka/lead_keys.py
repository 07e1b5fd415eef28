"""Every lead's sealing key, read whole from the compacted `lead.key_changed` topic.

Each consuming service runs one reader: no consumer group, every partition assigned, read from
the beginning into memory. Keys are never written to a service's database, so no backup of it
holds one. Ingest's relay publishes a key (and waits for its ack) before the first event sealed
with it, so a key missing when an event arrives means only that the reader has not got that far:
`open_events` then reads the topic up to its end offsets as of now, and a key still missing
after that belongs to a lead erased (its tombstone seen) or never known (docs/erasure.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.contracts import Envelope, LeadErased
from shared.contracts.topics import LEAD_KEY_CHANGED
from shared.kafka.security import PLAINTEXT, KafkaSecurity
from shared.metrics import LEAD_KEY_CATCH_UPS
from shared.sealing import is_sealed, open_event

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Envelope)
RETRY_S = 1.0
# A failed catch-up starts a fresh client at most this often.
REDIAL_EVERY_S = 5.0
# As short as the event consumers' own: a catch-up waits on this reader's next fetch, and a
# fetch the broker holds for want of new records would hold every consumer waiting on it.
FETCH_MAX_WAIT_MS = 40


class KeysUnavailable(TimeoutError):
    """The key topic could not be read to its end in time: the broker is away or slow. A
    `TimeoutError`, so the consumer retries the event rather than dead-letter it."""


class LeadKeyReader:
    """The lead keys one service knows (`shared.sealing.KeyRing`), kept current from the topic."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        security: KafkaSecurity = PLAINTEXT,
        catch_up_timeout_s: float = 15.0,
    ) -> None:
        self.catch_up_timeout_s = catch_up_timeout_s
        self._bootstrap = bootstrap_servers
        self._client_id = client_id
        self._security = security
        self._keys: dict[uuid.UUID, bytes] = {}
        self._erased: set[uuid.UUID] = set()
        self._positions: dict[TopicPartition, int] = {}
        self._progress = asyncio.Condition()
        self._assigned = asyncio.Event()
        self._loaded = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._redialled_at = float("-inf")
        self._closing: set[asyncio.Task[None]] = set()

    def get(self, lead_id: uuid.UUID) -> bytes | None:
        return self._keys.get(lead_id)

    def erased(self, lead_id: uuid.UUID) -> bool:
        return lead_id in self._erased

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    def forget(self, lead_id: uuid.UUID) -> None:
        """The lead was erased (its `lead.erased` seen before the tombstone, perhaps)."""
        self._keys.pop(lead_id, None)
        self._erased.add(lead_id)

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Read in the background: a service starts without a broker, and reads once one appears."""
        self._task = asyncio.create_task(self._run(), name=f"lead-keys:{self._client_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*self._closing, return_exceptions=True)
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._consumer.stop(), 5)

    async def open_events(self, events: Sequence[E]) -> list[E]:
        """`events` with their sealed fields opened, in order; an erased lead's read as erased.
        A `lead.erased` among them forgets its lead's key for the events after it. The first call
        reads every key issued so far, so what handlers stage next is sealed (`seal_with`)."""
        if not self._loaded.is_set() or any(
            is_sealed(e) and e.lead_id not in self._keys and e.lead_id not in self._erased for e in events
        ):
            await self.catch_up()
        opened: list[E] = []
        for event in events:
            if isinstance(event, LeadErased):
                self.forget(event.lead_id)
            opened.append(open_event(event, self._keys.get(event.lead_id)))
        return opened

    async def catch_up(self) -> None:
        """Read the key topic up to its end offsets as of now; raises `KeysUnavailable` if that
        fails or takes longer than `catch_up_timeout_s` (the broker is away: retried, never the
        event's fault)."""
        started = time.monotonic()
        deadline = started + self.catch_up_timeout_s
        try:
            await asyncio.wait_for(self._assigned.wait(), self.catch_up_timeout_s)
            consumer = self._consumer
            if consumer is None:
                raise RuntimeError("the key reader is reconnecting")
            ends = await asyncio.wait_for(
                consumer.end_offsets(list(self._positions)), max(0.1, deadline - time.monotonic())
            )
            async with self._progress:
                await asyncio.wait_for(
                    self._progress.wait_for(lambda: self._reached(ends)),
                    max(0.1, deadline - time.monotonic()),
                )
            self._loaded.set()
            LEAD_KEY_CATCH_UPS.labels(self._client_id).observe(time.monotonic() - started)
        except Exception as exc:
            self._redial()
            raise KeysUnavailable(
                f"{LEAD_KEY_CHANGED} not read to its end within {self.catch_up_timeout_s}s: {exc!r}"
            ) from exc

    def _redial(self) -> None:
        """Read on a fresh client, from where memory got to. After a broker cut aiokafka may keep
        a connection whose transport is closed and fetch nothing from it, without an error the
        reading loop would see; a catch-up that cannot reach the end is the sign."""
        now = time.monotonic()
        if now - self._redialled_at < REDIAL_EVERY_S:
            return  # consumers catching up side by side share one new client
        self._redialled_at = now
        log.warning("lead_keys.redial", extra={"client": self._client_id})
        if self._task is not None:
            self._task.cancel()
        self._assigned.clear()
        stale, self._consumer = self._consumer, None
        if stale is not None:
            closing = asyncio.create_task(_stop_quietly(stale))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        self._task = asyncio.create_task(self._run(), name=f"lead-keys:{self._client_id}")

    def _reached(self, ends: dict[TopicPartition, int]) -> bool:
        return all(self._positions.get(tp, 0) >= end for tp, end in ends.items())

    async def _run(self) -> None:
        while True:
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker went away: start over on a new client
                log.warning("lead_keys.read_failed", extra={"client": self._client_id, "error": repr(exc)})
                self._assigned.clear()
                if self._consumer is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(self._consumer.stop(), 5)
                    self._consumer = None
                await asyncio.sleep(RETRY_S)

    async def _read(self) -> None:
        consumer = self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            **self._security.client_options(),
        )
        await consumer.start()
        await consumer.topics()  # fetches the metadata partitions_for_topic reads
        partitions = consumer.partitions_for_topic(LEAD_KEY_CHANGED)
        if not partitions:
            raise RuntimeError(f"topic {LEAD_KEY_CHANGED} does not exist")
        assigned = [TopicPartition(LEAD_KEY_CHANGED, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        # Memory holds what the previous client read: go on from there, not from the start.
        for tp in assigned:
            if tp in self._positions:
                consumer.seek(tp, self._positions[tp])
            else:
                await consumer.seek_to_beginning(tp)
        for tp in assigned:
            self._positions[tp] = await consumer.position(tp)
        self._assigned.set()
        started_at = await consumer.end_offsets(assigned)
        if self._reached(started_at):
            # Nothing to read (no key issued yet): loaded now, not after a fetch's wait.
            self._loaded.set()
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key is None:
                        continue
                    lead_id = uuid.UUID(record.key.decode())
                    if record.value:
                        self._keys[lead_id] = record.value
                        self._erased.discard(lead_id)
                    else:
                        self.forget(lead_id)
            for tp in assigned:
                self._positions[tp] = await consumer.position(tp)
            if self._reached(started_at):
                self._loaded.set()
            async with self._progress:
                self._progress.notify_all()


async def _stop_quietly(consumer: AIOKafkaConsumer) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(consumer.stop(), 5)


__all__ = ["KeysUnavailable", "LeadKeyReader"]
