"""The SLA clock in business time."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from services.routing.calendar import add_business_minutes
from services.routing.eligibility import RepAvailability, within_working_hours

NEW_YORK_9_TO_5 = RepAvailability(
    uuid.UUID(int=1), active=True, timezone="America/New_York", work_start=time(9), work_end=time(17)
)
# Monday 2026-11-23, 16:55 in New York (21:55 UTC).
MONDAY_1655 = datetime(2026, 11, 23, 21, 55, tzinfo=UTC)


def local(dt: datetime) -> datetime:
    return dt.astimezone(ZoneInfo("America/New_York"))


class TestAddBusinessMinutes:
    def test_minutes_inside_the_day_are_wall_clock(self) -> None:
        start = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 10:00 local
        assert add_business_minutes(start, 30, rep=NEW_YORK_9_TO_5) == start + timedelta(minutes=30)

    def test_the_clock_stops_overnight(self) -> None:
        due = add_business_minutes(MONDAY_1655, 10, rep=NEW_YORK_9_TO_5)
        assert local(due).replace(tzinfo=None) == datetime(2026, 11, 24, 9, 5)

    def test_a_lead_qualified_at_night_starts_counting_next_morning(self) -> None:
        night = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Monday 22:00 local
        due = add_business_minutes(night, 60, rep=NEW_YORK_9_TO_5)
        assert local(due).replace(tzinfo=None) == datetime(2026, 11, 24, 10, 0)

    def test_weekend_is_skipped(self) -> None:
        friday_1650 = datetime(2026, 11, 27, 21, 50, tzinfo=UTC)
        due = add_business_minutes(friday_1650, 20, rep=NEW_YORK_9_TO_5)
        assert local(due).replace(tzinfo=None) == datetime(2026, 11, 30, 9, 10)

    def test_holiday_is_skipped(self) -> None:
        due = add_business_minutes(MONDAY_1655, 10, rep=NEW_YORK_9_TO_5, holidays={date(2026, 11, 24)})
        assert local(due).replace(tzinfo=None) == datetime(2026, 11, 25, 9, 5)

    def test_dst_change_does_not_shift_the_clock(self) -> None:
        # Clocks went back on Sunday 2026-11-01: Friday 16:30 EDT + 60 business minutes is
        # Monday 09:30 EST, which is 14:30 UTC.
        friday = datetime(2026, 10, 30, 20, 30, tzinfo=UTC)
        assert add_business_minutes(friday, 60, rep=NEW_YORK_9_TO_5) == datetime(
            2026, 11, 2, 14, 30, tzinfo=UTC
        )

    def test_rep_without_hours_works_around_the_clock(self) -> None:
        rep = RepAvailability(uuid.UUID(int=2), active=True)
        assert add_business_minutes(MONDAY_1655, 600, rep=rep) == MONDAY_1655 + timedelta(hours=10)

    @given(
        start=st.datetimes(
            min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
        ),
        minutes=st.integers(min_value=1, max_value=5000),
    )
    def test_due_time_is_inside_working_hours_and_never_early(self, start: datetime, minutes: int) -> None:
        due = add_business_minutes(start, minutes, rep=NEW_YORK_9_TO_5)
        assert due >= start + timedelta(minutes=minutes)
        just_before = due - timedelta(seconds=1)
        assert within_working_hours(NEW_YORK_9_TO_5, just_before)
