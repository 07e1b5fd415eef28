"""Marketing's and sales' scorecards against the signed agreement, as pure logic.

Marketing's side: MQLs delivered against the period's commitment, the acceptance rate against
the quality commitment, and the pace (a linear forecast to the period's end). Sales' side per
tier: time to accept or reject, time to the first real contact and attempts, each against the
tier's commitment and kept apart, so speed to lead measures contact, not clicks (attempts are
owed before a lead is dropped, so they are judged on the dropped leads). The same
figures per ISO week make the weekly trend. Callers give the clock (`now`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from shared.contracts import AgreementTerms, TierCommitment

Pace = Literal["on_track", "at_risk"]


@dataclass(frozen=True)
class MarketingLead:
    """An MQL of the period: when it qualified and how sales judged it (both None: not yet)."""

    mql_at: datetime
    accepted: bool
    rejected: bool


@dataclass(frozen=True)
class SalesLead:
    """A lead assigned in the period, with the moments sales' commitments are measured to."""

    tier: str | None
    assigned_at: datetime
    decided_at: datetime | None  # accepted or rejected, whichever came first
    first_contact_at: datetime | None
    attempts: int
    dropped: bool = False  # rejected or handed back to nurture


@dataclass(frozen=True)
class MarketingCard:
    delivered: int
    commitment: int | None
    expected_to_date: int | None  # the commitment spread evenly over the days elapsed
    accepted: int
    rejected: int
    acceptance_rate: float | None
    acceptance_commitment: float | None
    forecast: int | None
    pace: Pace | None


@dataclass(frozen=True)
class Measure:
    """One of sales' commitments for one tier: how many leads it applies to, how many kept it,
    and the median of what was measured (minutes, or attempts)."""

    commitment: int | None
    measured: int
    within: int
    pending: int
    p50: float | None

    @property
    def share_within(self) -> float | None:
        return self.within / self.measured if self.measured else None


@dataclass(frozen=True)
class TierCard:
    tier: str
    leads: int
    accept: Measure
    contact: Measure
    attempts: Measure


@dataclass(frozen=True)
class Week:
    week: str  # ISO week, e.g. 2027-W01
    start: date
    marketing: MarketingCard
    sales: tuple[TierCard, ...]


@dataclass(frozen=True)
class Scorecards:
    rubric_version: str | None
    period_start: date
    period_end: date
    as_of: datetime
    marketing: MarketingCard
    sales: tuple[TierCard, ...]
    weeks: tuple[Week, ...]


def period_of(terms: AgreementTerms | None, now: datetime) -> tuple[date, date]:
    """The agreement's period, else the current calendar month."""
    if terms is not None and terms.period_start is not None and terms.period_end is not None:
        return terms.period_start, terms.period_end
    first = now.date().replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def scorecards(
    terms: AgreementTerms | None,
    *,
    rubric_version: str | None,
    start: date,
    end: date,
    marketing: Sequence[MarketingLead],
    sales: Sequence[SalesLead],
    now: datetime,
) -> Scorecards:
    """Both teams' cards for the period and for each ISO week of it."""
    tiers = {t.tier: t for t in terms.tiers} if terms else {}
    commitment = terms.mql_commitment if terms else None
    acceptance = terms.acceptance_commitment if terms else None
    weeks = []
    for monday in _mondays(start, end):
        first, last = max(start, monday), min(end, monday + timedelta(days=6))
        in_week = _within(first, last)
        weeks.append(
            Week(
                week=f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}",
                start=first,
                marketing=marketing_card(
                    [m for m in marketing if in_week(m.mql_at)],
                    commitment=_share_of(commitment, first, last, start, end),
                    acceptance_commitment=acceptance,
                    start=first,
                    end=last,
                    now=now,
                ),
                sales=sales_cards([s for s in sales if in_week(s.assigned_at)], tiers, now=now),
            )
        )
    return Scorecards(
        rubric_version=rubric_version,
        period_start=start,
        period_end=end,
        as_of=now,
        marketing=marketing_card(
            marketing,
            commitment=commitment,
            acceptance_commitment=acceptance,
            start=start,
            end=end,
            now=now,
        ),
        sales=sales_cards(sales, tiers, now=now),
        weeks=tuple(weeks),
    )


def marketing_card(
    leads: Sequence[MarketingLead],
    *,
    commitment: int | None,
    acceptance_commitment: float | None,
    start: date,
    end: date,
    now: datetime,
) -> MarketingCard:
    delivered = len(leads)
    accepted = sum(1 for m in leads if m.accepted)
    rejected = sum(1 for m in leads if m.rejected and not m.accepted)
    judged = accepted + rejected
    elapsed = elapsed_fraction(start, end, now)
    forecast = None if elapsed == 0 else round(delivered / elapsed)
    return MarketingCard(
        delivered=delivered,
        commitment=commitment,
        expected_to_date=None if commitment is None else round(commitment * elapsed),
        accepted=accepted,
        rejected=rejected,
        acceptance_rate=accepted / judged if judged else None,
        acceptance_commitment=acceptance_commitment,
        forecast=forecast,
        pace=pace(forecast, commitment),
    )


def elapsed_fraction(start: date, end: date, now: datetime) -> float:
    """How much of the period (whole days, from `start`'s midnight UTC to the end of `end`)
    lies behind `now`, in [0, 1]."""
    begin = datetime.combine(start, time(), tzinfo=UTC)
    finish = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)
    return min(1.0, max(0.0, (now - begin) / (finish - begin)))


def pace(forecast: int | None, commitment: int | None) -> Pace | None:
    """On track when the linear forecast to the period's end reaches the commitment."""
    if forecast is None or commitment is None:
        return None
    return "on_track" if forecast >= commitment else "at_risk"


def sales_cards(
    leads: Sequence[SalesLead], tiers: dict[str, TierCommitment], *, now: datetime
) -> tuple[TierCard, ...]:
    """One card per tier the agreement names or a lead was assigned under, in the agreement's order."""
    names = list(tiers) + sorted({s.tier for s in leads if s.tier and s.tier not in tiers})
    cards = []
    for name in names:
        mine = [s for s in leads if s.tier == name]
        terms = tiers.get(name)
        cards.append(
            TierCard(
                tier=name,
                leads=len(mine),
                accept=_timed(mine, lambda s: s.decided_at, terms.accept_minutes if terms else None, now),
                contact=_timed(
                    mine, lambda s: s.first_contact_at, terms.contact_minutes if terms else None, now
                ),
                attempts=_attempts(mine, terms.min_attempts if terms else None),
            )
        )
    return tuple(cards)


def _timed(
    leads: Sequence[SalesLead],
    moment: Callable[[SalesLead], datetime | None],
    minutes: int | None,
    now: datetime,
) -> Measure:
    """Minutes from assignment to `moment`. A lead still waiting counts against the commitment
    once its time is up, and is `pending` until then (neither kept nor broken yet)."""
    done = [(m - s.assigned_at).total_seconds() / 60 for s in leads if (m := moment(s)) is not None]
    waiting = [(now - s.assigned_at).total_seconds() / 60 for s in leads if moment(s) is None]
    if minutes is None:
        return Measure(None, len(done), 0, len(waiting), _median(done))
    overdue = sum(1 for w in waiting if w > minutes)
    return Measure(
        commitment=minutes,
        measured=len(done) + overdue,
        within=sum(1 for d in done if d <= minutes),
        pending=len(waiting) - overdue,
        p50=_median(done),
    )


def _attempts(leads: Sequence[SalesLead], minimum: int | None) -> Measure:
    """The attempts owed are owed before a lead is dropped: a dropped lead kept the commitment
    with at least `minimum` attempts; a lead still worked is pending. The median is over all."""
    dropped = [s.attempts for s in leads if s.dropped]
    if not minimum:
        return Measure(None, 0, 0, len(leads) - len(dropped), _median([s.attempts for s in leads]))
    return Measure(
        commitment=minimum,
        measured=len(dropped),
        within=sum(1 for c in dropped if c >= minimum),
        pending=len(leads) - len(dropped),
        p50=_median([s.attempts for s in leads]),
    )


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _mondays(start: date, end: date) -> Iterable[date]:
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        yield monday
        monday += timedelta(days=7)


def _within(first: date, last: date) -> Callable[[datetime], bool]:
    return lambda at: first <= at.astimezone(UTC).date() <= last


def _share_of(commitment: int | None, first: date, last: date, start: date, end: date) -> int | None:
    """A week's part of the period's commitment, by its days in the period."""
    if commitment is None:
        return None
    return round(commitment * ((last - first).days + 1) / ((end - start).days + 1))
