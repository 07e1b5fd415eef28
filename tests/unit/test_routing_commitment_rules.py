"""The agreement's attempt commitment as pure rules: which outcomes drop a lead, the window of
business days (working days, holidays skipped) and what a drop still owes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.routing.calendar import add_business_days, business_days_until
from services.routing.commitments import drops, unmet_before_drop
from services.routing.eligibility import RepAvailability
from shared.contracts import TierCommitment

BERLIN = RepAvailability(uuid.UUID(int=1), active=True, timezone="Europe/Berlin")
NIGHT_SHIFT = RepAvailability(
    uuid.UUID(int=2), active=True, timezone="Europe/Berlin", work_start=time(22), work_end=time(6)
)
# Thursday 2026-12-03, 10:00 in Berlin (09:00 UTC).
THURSDAY_10 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
HOT = TierCommitment(grade="A", tier="hot", first_touch_minutes=60, min_attempts=3, attempt_business_days=2)


class TestBusinessDays:
    def test_the_window_skips_the_weekend(self) -> None:
        # Thursday + 2 business days: Friday, then Monday, at the same local time.
        assert add_business_days(THURSDAY_10, 2, rep=BERLIN) == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    def test_the_window_skips_holidays(self) -> None:
        friday_off = {date(2026, 12, 4)}
        end = add_business_days(THURSDAY_10, 2, rep=BERLIN, holidays=friday_off)
        assert end == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)

    def test_a_window_opened_at_the_weekend_ends_as_one_opened_on_friday(self) -> None:
        saturday = THURSDAY_10 + timedelta(days=2)
        friday = THURSDAY_10 + timedelta(days=1)
        assert add_business_days(saturday, 1, rep=BERLIN) == add_business_days(friday, 1, rep=BERLIN)

    def test_the_rep_working_days_count_not_their_hours(self) -> None:
        assert add_business_days(THURSDAY_10, 2, rep=NIGHT_SHIFT) == add_business_days(
            THURSDAY_10, 2, rep=BERLIN
        )

    def test_days_remaining_count_business_days(self) -> None:
        end = add_business_days(THURSDAY_10, 2, rep=BERLIN)  # Monday 10:00
        assert business_days_until(THURSDAY_10, end, rep=BERLIN) == 2
        assert business_days_until(THURSDAY_10 + timedelta(hours=1), end, rep=BERLIN) == 2
        assert business_days_until(end - timedelta(minutes=1), end, rep=BERLIN) == 1
        assert business_days_until(end, end, rep=BERLIN) == 0

    @given(
        start=st.datetimes(
            min_value=datetime(2026, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
        ),
        days=st.integers(min_value=0, max_value=30),
        holidays=st.sets(st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 3, 1)), max_size=20),
    )
    def test_the_window_holds_exactly_its_business_days(
        self, start: datetime, days: int, holidays: set[date]
    ) -> None:
        end = add_business_days(start, days, rep=BERLIN, holidays=holidays)
        assert end >= start
        assert business_days_until(start, end, rep=BERLIN, holidays=holidays) == days


class TestWhichOutcomesDrop:
    def test_recycling_and_rejecting_as_unresponsive_drop_the_lead(self) -> None:
        assert drops("recycled", None)
        assert drops("rejected", "unresponsive")

    def test_other_outcomes_do_not(self) -> None:
        assert not drops("rejected", "student")
        assert not drops("lost", "unresponsive")
        assert not drops("accepted", None)


class TestWhatADropStillOwes:
    def unmet(self, *, attempts: int, first: datetime | None, now: datetime) -> list[dict[str, object]]:
        return unmet_before_drop(HOT, attempts=attempts, first_attempt_at=first, now=now, calendar=BERLIN)

    def test_without_attempts_both_the_count_and_the_whole_window_are_owed(self) -> None:
        owed = self.unmet(attempts=0, first=None, now=THURSDAY_10)
        assert owed == [
            {"term": "min_attempts", "required": 3, "logged": 0, "short_by": 3},
            {
                "term": "attempt_business_days",
                "business_days": 2,
                "business_days_remaining": 2,
                "window_ends_at": None,
            },
        ]

    def test_attempts_made_quickly_still_leave_the_window_to_run(self) -> None:
        owed = self.unmet(attempts=3, first=THURSDAY_10, now=THURSDAY_10 + timedelta(hours=2))
        assert owed == [
            {
                "term": "attempt_business_days",
                "business_days": 2,
                "business_days_remaining": 2,
                "window_ends_at": "2026-12-07T09:00:00+00:00",
            }
        ]

    def test_once_the_window_has_run_the_count_is_enough(self) -> None:
        monday_10 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        assert self.unmet(attempts=3, first=THURSDAY_10, now=monday_10) == []

    def test_a_window_run_out_does_not_excuse_missing_attempts(self) -> None:
        owed = self.unmet(attempts=1, first=THURSDAY_10, now=THURSDAY_10 + timedelta(days=30))
        assert owed == [{"term": "min_attempts", "required": 3, "logged": 1, "short_by": 2}]

    def test_the_window_counts_holidays_out(self) -> None:
        monday_10 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        owed = unmet_before_drop(
            HOT,
            attempts=3,
            first_attempt_at=THURSDAY_10,
            now=monday_10,
            calendar=BERLIN,
            holidays={date(2026, 12, 4)},
        )
        assert [(o["term"], o["business_days_remaining"]) for o in owed] == [("attempt_business_days", 1)]

    def test_a_commitment_owing_no_attempts_holds_no_window(self) -> None:
        none_owed = HOT.model_copy(update={"min_attempts": 0})
        assert (
            unmet_before_drop(none_owed, attempts=0, first_attempt_at=None, now=THURSDAY_10, calendar=BERLIN)
            == []
        )

    def test_a_count_without_a_window_is_only_a_count(self) -> None:
        count_only = HOT.model_copy(update={"attempt_business_days": None})
        owed = unmet_before_drop(
            count_only, attempts=2, first_attempt_at=THURSDAY_10, now=THURSDAY_10, calendar=BERLIN
        )
        assert owed == [{"term": "min_attempts", "required": 3, "logged": 2, "short_by": 1}]
