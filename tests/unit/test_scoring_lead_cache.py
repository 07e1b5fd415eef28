"""The consumer's lead histories: bounded by the activities held, least recently used first."""

from __future__ import annotations

import uuid

from services.scoring.evaluation import Activity
from services.scoring.lead_cache import LeadHistories, LeadHistory
from shared.contracts import utc_now


def history(activities: int, last_id: int = 1) -> LeadHistory:
    return LeadHistory(
        [Activity(type="page_view", occurred_at=utc_now()) for _ in range(activities)], last_id
    )


class TestLeadHistories:
    def test_a_history_put_is_found(self) -> None:
        cache, lead = LeadHistories(max_activities=10), uuid.uuid4()
        cache.put_many({lead: history(2, last_id=7)})
        found = cache.get(lead)
        assert found is not None
        assert found.last_id == 7

    def test_beyond_the_bound_the_least_recently_used_lead_goes(self) -> None:
        cache = LeadHistories(max_activities=6)
        first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        cache.put_many({first: history(2), second: history(2)})
        cache.get(first)
        cache.put_many({third: history(3)})
        assert cache.get(second) is None
        assert cache.get(first) is not None
        assert cache.get(third) is not None

    def test_a_lead_put_again_is_counted_once(self) -> None:
        cache, lead = LeadHistories(max_activities=4), uuid.uuid4()
        for activities in (3, 4, 4):
            cache.put_many({lead: history(activities)})
        assert len(cache) == 1

    def test_a_history_larger_than_the_bound_is_not_kept(self) -> None:
        cache, lead = LeadHistories(max_activities=2), uuid.uuid4()
        cache.put_many({lead: history(1)})
        cache.put_many({lead: history(3)})
        assert cache.get(lead) is None

    def test_clearing_forgets_every_lead(self) -> None:
        cache = LeadHistories(max_activities=10)
        cache.put_many({uuid.uuid4(): history(1), uuid.uuid4(): history(1)})
        cache.clear()
        assert len(cache) == 0

    def test_a_bound_of_zero_keeps_nothing(self) -> None:
        cache = LeadHistories(max_activities=0)
        cache.put_many({uuid.uuid4(): history(1)})
        assert len(cache) == 0
