"""The SLA clock in business time: minutes count only inside the rep's working hours, on their
working days, and not on holidays. Pure; all arithmetic in UTC so DST changes are exact."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.routing.eligibility import RepAvailability


class HolidaysFrom:
    """Holidays read once from some day on, handed out as a single reckoning reads them: from
    the day before its start (`assignment.sla_due_at_for`), so a batch that reads once sets
    each deadline exactly as one reckoning at a time would."""

    def __init__(self, days: frozenset[date]) -> None:
        self.days = days
        self._since: dict[date, frozenset[date]] = {}

    def since(self, start: datetime) -> frozenset[date]:
        first = start.date() - timedelta(days=1)
        known = self._since.get(first)
        if known is None:
            known = self._since[first] = frozenset(d for d in self.days if d >= first)
        return known


# A calendar with working days but every one a holiday would loop forever; nobody waits 5 years.
MAX_DAYS = 5 * 366


def add_business_minutes(
    start: datetime, minutes: float, *, rep: RepAvailability, holidays: Collection[date] = ()
) -> datetime:
    """The moment `minutes` of the rep's working time have passed since `start`.

    A rep without working hours works around the clock (and through holidays).
    """
    if rep.work_start is None or rep.work_end is None or minutes <= 0:
        return start + timedelta(minutes=max(minutes, 0))
    tz = ZoneInfo(rep.timezone)
    remaining = timedelta(minutes=minutes)
    cursor = start.astimezone(UTC)
    # Start a day early: yesterday's shift may run past midnight into today.
    day = start.astimezone(tz).date() - timedelta(days=1)
    for _ in range(MAX_DAYS):
        if day.weekday() in rep.work_days and day not in holidays:
            shift_start = datetime.combine(day, rep.work_start, tz).astimezone(UTC)
            end_day = day if rep.work_end > rep.work_start else day + timedelta(days=1)
            shift_end = datetime.combine(end_day, rep.work_end, tz).astimezone(UTC)
            begin = max(shift_start, cursor)
            if begin < shift_end:
                if begin + remaining <= shift_end:
                    return begin + remaining
                remaining -= shift_end - begin
                cursor = shift_end
        day += timedelta(days=1)
    raise ValueError("the rep's calendar has no working time in the next five years")


def add_business_days(
    start: datetime, days: int, *, rep: RepAvailability, holidays: Collection[date] = ()
) -> datetime:
    """The same local time of day, `days` of the rep's working days (holidays skipped) after
    `start`: the end of a window of business days that opens at `start`. Working hours play no
    part here; a window opened on a day off ends as one opened on the working day before it."""
    tz = ZoneInfo(rep.timezone)
    local = start.astimezone(tz)
    day, counted = local.date(), 0
    for _ in range(MAX_DAYS):
        if counted >= days:
            return datetime.combine(day, local.time(), tz).astimezone(UTC)
        day += timedelta(days=1)
        counted += day.weekday() in rep.work_days and day not in holidays
    raise ValueError("the rep's calendar has no working day in the next five years")


def business_days_until(
    now: datetime, end: datetime, *, rep: RepAvailability, holidays: Collection[date] = ()
) -> int:
    """How many of the rep's business days from `now` it takes to reach `end` (0 once there):
    what a rep is told is left of a window of business days."""
    remaining = 0
    while now < end:
        remaining += 1
        now = add_business_days(now, 1, rep=rep, holidays=holidays)
    return remaining
