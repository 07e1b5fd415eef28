"""How hand-raiser MQLs convert, per form and per persona: the evidence for the agreement's
hand-raiser terms (which forms qualify at once, and from which grade). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from services.feedback.tuning import Interval, wilson


@dataclass(frozen=True)
class MqlTally:
    """MQLs sharing a form, a persona and how they qualified, with how the judged ones ended."""

    form_id: str | None
    persona: str | None
    grade: str | None
    hand_raiser: bool
    mqls: int
    judged: int
    sql: int
    won: int


@dataclass(frozen=True)
class Conversion:
    """MQL→SQL of one group of MQLs: the rate over the judged ones (rejected, SQL, won or lost),
    its 95 % Wilson interval, and its lift over every judged MQL's rate."""

    key: str | None
    mqls: int
    judged: int
    sql: int
    won: int
    rate: float | None
    interval: Interval | None
    lift: float | None


@dataclass(frozen=True)
class HandRaiserReport:
    baseline_rate: float | None
    hand_raisers: Conversion
    by_threshold: Conversion
    by_form: tuple[Conversion, ...]
    by_persona: tuple[Conversion, ...]
    by_grade: tuple[Conversion, ...]


def conversion(key: str | None, tallies: Iterable[MqlTally], baseline: float | None) -> Conversion:
    rows = list(tallies)
    judged, sql = sum(t.judged for t in rows), sum(t.sql for t in rows)
    rate = sql / judged if judged else None
    return Conversion(
        key=key,
        mqls=sum(t.mqls for t in rows),
        judged=judged,
        sql=sql,
        won=sum(t.won for t in rows),
        rate=rate,
        interval=wilson(sql, judged),
        lift=rate / baseline if rate is not None and baseline else None,
    )


def _grouped(
    tallies: Sequence[MqlTally], key: Callable[[MqlTally], str | None], baseline: float | None
) -> tuple[Conversion, ...]:
    keys = {key(t) for t in tallies}
    rows = [conversion(k, (t for t in tallies if key(t) == k), baseline) for k in keys]
    # The largest groups first: they are the ones the evidence can say most about.
    return tuple(sorted(rows, key=lambda r: (-r.mqls, r.key is None, r.key or "")))


def hand_raiser_report(tallies: Sequence[MqlTally]) -> HandRaiserReport:
    """Hand-raiser MQLs per form, persona and qualifying grade, against every judged MQL (the lift's base) and
    against the MQLs that qualified by threshold."""
    judged = sum(t.judged for t in tallies)
    baseline = sum(t.sql for t in tallies) / judged if judged else None
    raised = [t for t in tallies if t.hand_raiser]
    return HandRaiserReport(
        baseline_rate=baseline,
        hand_raisers=conversion("hand_raiser", raised, baseline),
        by_threshold=conversion("threshold", (t for t in tallies if not t.hand_raiser), baseline),
        by_form=_grouped(raised, lambda t: t.form_id, baseline),
        by_persona=_grouped(raised, lambda t: t.persona, baseline),
        by_grade=_grouped(raised, lambda t: t.grade, baseline),
    )
