"""Whether a rep may take a lead right now, and if not, why: pure, so the trace can say it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

SkipReason = Literal["inactive", "missing_skill", "away", "capped", "daily_cap", "outside_hours"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class RepAvailability:
    rep_id: uuid.UUID
    active: bool
    timezone: str = "UTC"
    work_start: time | None = None
    work_end: time | None = None
    work_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    max_open: int | None = None
    open_count: int = 0
    away: bool = False
    skills: frozenset[str] = field(default_factory=frozenset)
    max_per_day: int | None = None
    assigned_today: int = 0
    # The skills as a lead's needs are written (normalized), worked out once: a batch tests the
    # same availability against many leads.
    held_skills: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "held_skills", frozenset(s.strip().casefold() for s in self.skills))


def within_working_hours(rep: RepAvailability, at: datetime) -> bool:
    """True when `at` falls in the rep's working hours, read in the rep's own time zone.

    A rep without working hours is always available; an end before the start spans midnight.
    """
    if rep.work_start is None or rep.work_end is None:
        return True
    local = at.astimezone(ZoneInfo(rep.timezone))
    now = local.time().replace(tzinfo=None)
    if rep.work_start <= rep.work_end:
        return local.weekday() in rep.work_days and rep.work_start <= now < rep.work_end
    if now >= rep.work_start:
        return local.weekday() in rep.work_days
    # The early-morning tail of a shift that started the previous day.
    return (local.weekday() - 1) % 7 in rep.work_days and now < rep.work_end


def skip_reason(
    rep: RepAvailability, *, at: datetime, required_skills: frozenset[str] = frozenset()
) -> SkipReason | None:
    """Why `rep` cannot take a lead at `at`, or None when they can. `required_skills` are the
    lead's needs, normalized; the rep's skills must cover them all."""
    if not rep.active:
        return "inactive"
    if required_skills and not required_skills <= rep.held_skills:
        return "missing_skill"
    if rep.away:
        return "away"
    if rep.max_open is not None and rep.open_count >= rep.max_open:
        return "capped"
    if rep.max_per_day is not None and rep.assigned_today >= rep.max_per_day:
        return "daily_cap"
    if not within_working_hours(rep, at):
        return "outside_hours"
    return None


def local_day(timezone: str, at: datetime) -> date:
    """The day `at` falls on in the rep's own calendar: daily caps reset at their midnight."""
    return at.astimezone(ZoneInfo(timezone)).date()
