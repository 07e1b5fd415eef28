"""Eligibility: a rep's switch, capacity and working hours."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

from services.routing.eligibility import RepAvailability, skip_reason, within_working_hours

REP = uuid.UUID(int=1)
# A Monday: 14:00 UTC is 09:00 in New York and 23:00 in Tokyo.
MONDAY_1400_UTC = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def nine_to_five(tz: str, **overrides: object) -> RepAvailability:
    values: dict[str, object] = {
        "rep_id": REP,
        "active": True,
        "timezone": tz,
        "work_start": time(9),
        "work_end": time(17),
        **overrides,
    }
    return RepAvailability(**values)  # type: ignore[arg-type]


class TestSkipReason:
    def test_available_rep_is_not_skipped(self) -> None:
        assert skip_reason(nine_to_five("America/New_York"), at=MONDAY_1400_UTC) is None

    def test_switched_off_rep_is_inactive(self) -> None:
        assert skip_reason(RepAvailability(REP, active=False), at=MONDAY_1400_UTC) == "inactive"

    def test_rep_out_of_office_is_away(self) -> None:
        assert skip_reason(RepAvailability(REP, active=True, away=True), at=MONDAY_1400_UTC) == "away"

    def test_rep_at_their_cap_is_capped(self) -> None:
        rep = RepAvailability(REP, active=True, max_open=3, open_count=3)
        assert skip_reason(rep, at=MONDAY_1400_UTC) == "capped"

    def test_rep_below_their_cap_is_not(self) -> None:
        rep = RepAvailability(REP, active=True, max_open=3, open_count=2)
        assert skip_reason(rep, at=MONDAY_1400_UTC) is None

    def test_hours_are_read_in_the_reps_own_time_zone(self) -> None:
        assert skip_reason(nine_to_five("Asia/Tokyo"), at=MONDAY_1400_UTC) == "outside_hours"

    def test_weekend_is_outside_hours(self) -> None:
        saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
        assert not within_working_hours(nine_to_five("UTC"), saturday)

    def test_night_shift_spans_midnight(self) -> None:
        night = nine_to_five("UTC", work_start=time(22), work_end=time(6))
        assert within_working_hours(night, datetime(2026, 11, 23, 23, 0, tzinfo=UTC))
        assert within_working_hours(night, datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
        assert not within_working_hours(night, datetime(2026, 11, 24, 7, 0, tzinfo=UTC))
        # Saturday 03:00 is the tail of Friday's shift; Sunday 03:00 belongs to no shift.
        assert within_working_hours(night, datetime(2026, 11, 28, 3, 0, tzinfo=UTC))
        assert not within_working_hours(night, datetime(2026, 11, 29, 3, 0, tzinfo=UTC))

    def test_rep_without_hours_is_always_available(self) -> None:
        assert within_working_hours(RepAvailability(REP, active=True), datetime(2026, 11, 29, 3, tzinfo=UTC))
