"""Each lead's activity history as this consumer last committed it, so the next event of the
lead reads only the rows added since.

A lead's events all arrive on one partition per topic, so the consumer holding those partitions
sees most of the lead's activities as it records them. The cache remembers, per lead, the
activities in time order and the highest row id among them. A later batch then asks the
database only for the lead's rows above that id: whatever another consumer (a replica holding
another topic's partition of the lead) or a rolled-back attempt did, the history it evaluates is
the table's: every insert of a lead's activity follows the upsert that locks its profile row,
so a lead's row ids grow in commit order and none can appear below one already read. Entries are put only after their transaction commits (`shared.db.after_commit`),
so a rollback never leaves the cache ahead of the database. The whole cache is dropped when
the consumer's partitions change hands: the leads are then mostly another member's, and
correctness never rested on owning them. Bounded by the number of activities held, least
recently used leads going first.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import NamedTuple

from services.scoring.evaluation import Activity


class LeadHistory(NamedTuple):
    """A lead's activities in time order (ties in row order) and the id of its latest row."""

    activities: list[Activity]
    last_id: int


class LeadHistories:
    def __init__(self, *, max_activities: int) -> None:
        self.max_activities = max_activities
        self._entries: OrderedDict[uuid.UUID, LeadHistory] = OrderedDict()
        self._held = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, lead_id: uuid.UUID) -> LeadHistory | None:
        found = self._entries.get(lead_id)
        if found is not None:
            self._entries.move_to_end(lead_id)
        return found

    def put_many(self, histories: Mapping[uuid.UUID, LeadHistory]) -> None:
        """Keep these histories, as committed; the lists are kept as given, never changed."""
        if self.max_activities <= 0:
            return
        for lead_id, history in histories.items():
            self._forget(lead_id)
            if len(history.activities) > self.max_activities:
                continue
            self._entries[lead_id] = history
            self._held += len(history.activities)
        while self._held > self.max_activities:
            _, dropped = self._entries.popitem(last=False)
            self._held -= len(dropped.activities)

    def clear(self) -> None:
        """Forget every lead: the consumer's partitions changed hands."""
        self._entries.clear()
        self._held = 0

    def _forget(self, lead_id: uuid.UUID) -> None:
        dropped = self._entries.pop(lead_id, None)
        if dropped is not None:
            self._held -= len(dropped.activities)
