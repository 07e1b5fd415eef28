"""A consumer's handled offsets on their way to the group coordinator.

Offsets are committed only after the database transaction that handled their records, as ever;
what changes here is who waits for the broker's answer. A pass hands its offsets to a commit in
the background and goes on to its next fetch: the round trip (tens of milliseconds on a busy
broker) overlaps the next batch instead of delaying every record that arrived meanwhile. Commits
go one at a time, in order, so an older offset never lands after a newer one; a rebalance, a
stop and a client replacement wait for the one on its way before they commit.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

log = logging.getLogger(__name__)

# aiokafka retries a commit for as long as the coordinator answers with a retriable error; past
# this the offsets stay pending for the next commit.
COMMIT_TIMEOUT_S = 10.0


class PendingOffsets:
    """The next offset to commit per partition, and the commit on its way, if any."""

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.offsets: dict[TopicPartition, int] = {}
        self._one_at_a_time = asyncio.Lock()
        self._on_its_way: asyncio.Task[None] | None = None

    async def commit(self, client: AIOKafkaConsumer, only: set[TopicPartition] | None = None) -> None:
        """Commit the pending offsets (of `only`'s partitions), after the commit on its way."""
        async with self._one_at_a_time:
            offsets = {
                tp: OffsetAndMetadata(offset, "")
                for tp, offset in self.offsets.items()
                if only is None or tp in only
            }
            if not offsets:
                return
            await client.commit(offsets)
            for tp, committed in offsets.items():
                # A later pass may have handled more of the partition meanwhile: that stays.
                if self.offsets.get(tp) == committed.offset:
                    del self.offsets[tp]

    def commit_in_background(self, client: AIOKafkaConsumer) -> None:
        """Start committing what is pending without waiting for the answer. While one commit
        is on its way, the next pass's offsets wait for the pass after it."""
        if self.offsets and (self._on_its_way is None or self._on_its_way.done()):
            self._on_its_way = asyncio.create_task(self._commit_or_keep(client))

    async def settle(self) -> None:
        """Wait for the commit on its way, if any (it never raises)."""
        if self._on_its_way is not None:
            await asyncio.gather(self._on_its_way, return_exceptions=True)

    async def _commit_or_keep(self, client: AIOKafkaConsumer) -> None:
        try:
            await asyncio.wait_for(self.commit(client), COMMIT_TIMEOUT_S)
        except Exception as exc:  # KafkaError, a timeout, or a client being replaced
            # Harmless: the offsets stay pending for the next commit, or the records are
            # replayed to whoever owns their partitions now, and deduplicated there.
            log.warning("kafka.commit_failed", extra={"group": self.group_id, "error": repr(exc)})
            assigned = client.assignment()
            for tp in [tp for tp in self.offsets if tp not in assigned]:
                del self.offsets[tp]
