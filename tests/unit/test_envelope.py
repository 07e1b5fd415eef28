import time
import uuid

from shared.contracts import LeadErased, LeadErasedPayload, new_event_id, utc_now


class TestNewEventId:
    def test_an_event_id_is_a_version_7_uuid(self) -> None:
        event_id = new_event_id()
        assert (event_id.version, event_id.variant) == (7, uuid.RFC_4122)

    def test_an_event_id_carries_the_millisecond_it_was_made_in(self) -> None:
        before = time.time_ns() // 1_000_000
        made = new_event_id().int >> 80
        after = time.time_ns() // 1_000_000
        # Which millisecond the id names, not how long it took to make.
        assert before <= made <= after

    def test_ids_made_in_later_milliseconds_sort_after_earlier_ones(self) -> None:
        earlier = [new_event_id() for _ in range(50)]
        time.sleep(0.002)
        later = [new_event_id() for _ in range(50)]
        assert max(earlier) < min(later)

    def test_ids_made_in_one_millisecond_differ(self) -> None:
        assert len({new_event_id() for _ in range(10_000)}) == 10_000

    def test_a_new_event_gets_a_version_7_id(self) -> None:
        lead_id = uuid.uuid4()
        event = LeadErased.new(
            lead_id=lead_id, payload=LeadErasedPayload(reason="request", erased_at=utc_now()), producer="test"
        )
        assert event.event_id.version == 7
        assert event.correlation_id == event.event_id
