"""Keeping the MQL volume a draft promises: the grade floors and the engagement minimums move
together so the draft qualifies about as many of the scored leads as today's rubric, and the
guardrails that held a change back are named. Pure: no I/O."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.feedback.tuning import Rescored, bands, qualifies, scaled_minimum


def keep_volume_bar(
    rubric: Mapping[str, Any],
    current: Sequence[Rescored],
    draft: Sequence[Rescored],
    *,
    max_shift: int,
    engagement_scale: float = 1.0,
    total_scale: float = 1.0,
) -> int:
    """The shift of the grade floors that keeps the number of MQLs among all scored leads
    closest to today's (the smallest move on a tie), within `max_shift`. Volume, not precision,
    is the objective: marketing's side of the agreement is a number of MQLs, and the points
    already carry what the outcomes taught."""
    today = sum(qualifies(x, rubric, 0) for x in current)
    headrooms = sorted(headroom(x, rubric, engagement_scale, total_scale) for x in draft)
    by_shift = {
        s: len(headrooms) - bisect.bisect_left(headrooms, s) for s in range(-max_shift, max_shift + 1)
    }
    return min(by_shift, key=lambda s: (abs(by_shift[s] - today), abs(s), s))


# How far the engagement minimums may move around the engagement points' own move, in tenths.
MINIMUM_STEPS = tuple(f / 10 for f in range(5, 16))


def keep_volume(
    rubric: Mapping[str, Any],
    current: Sequence[Rescored],
    draft: Sequence[Rescored],
    *,
    max_shift: int,
    mass_ratio: float,
    total_ratio: float = 1.0,
) -> tuple[int, float, float]:
    """The grade-floor shift, engagement scale and total-score scale that, together, keep the
    number of MQLs among all scored leads closest to today's. The engagement minimums start from
    the engagement points' own move (`mass_ratio`), the total-score bar from the total scores'
    (`total_ratio`), and each may go from half to one and a half times it; on a tie the scales
    closest to those moves win, then the smallest floor shift."""
    today = sum(qualifies(x, rubric, 0) for x in current)
    best: tuple[tuple[float, float, int, int], int, float, float] | None = None
    has_total = (rubric.get("qualification") or {}).get("min_total") is not None
    for step in MINIMUM_STEPS:
        for total_step in MINIMUM_STEPS if has_total else (1.0,):
            scale, total_scale = mass_ratio * step, total_ratio * total_step
            shift = keep_volume_bar(
                rubric, current, draft, max_shift=max_shift, engagement_scale=scale, total_scale=total_scale
            )
            mqls = sum(qualifies(x, rubric, shift, scale, total_scale) for x in draft)
            key = (abs(mqls - today), abs(step - 1) + abs(total_step - 1), abs(shift), shift)
            if best is None or key < best[0]:
                best = (key, shift, scale, total_scale)
    assert best is not None
    return best[1], best[2], best[3]


def headroom(
    lead: Rescored, rubric: Mapping[str, Any], engagement_scale: float = 1.0, total_scale: float = 1.0
) -> float:
    """The largest shift of the grade floors under which the lead still qualifies (`qualifies`
    is monotone in the shift): inf when no floor matters, -inf when it never qualifies."""
    if qualifies(lead, rubric, math.inf, engagement_scale, total_scale):
        return math.inf
    floors = dict(bands(rubric))
    best = -math.inf
    for criterion in (rubric.get("qualification") or {}).get("mql") or []:
        floor = floors.get(criterion.get("grade_at_least"))
        minimum = scaled_minimum(float(criterion.get("min_engagement", 0)), engagement_scale)
        if floor is not None and lead.engagement >= minimum:
            best = max(best, lead.fit - floor)
    return best


def total_mass_ratio(today: Sequence[Rescored], draft: Sequence[Rescored]) -> float:
    """How much the total scores move overall (draft / today, their positive parts): the
    total-score bar (`min_total`) moves by it, so it still admits about the same leads."""
    before = sum(max(0.0, x.fit + x.engagement) for x in today)
    after = sum(max(0.0, x.fit + x.engagement) for x in draft)
    return after / before if before > 0 and after > 0 else 1.0


def engagement_mass_ratio(today: Sequence[Rescored], draft: Sequence[Rescored]) -> float:
    """How much the engagement points move overall (draft / today, over every scored lead): the
    engagement minimums move by it, so a minimum still asks for as much activity as before, and
    the grade floors alone need not make up for a fall in engagement points."""
    before = sum(x.engagement for x in today)
    after = sum(x.engagement for x in draft)
    return after / before if before > 0 and after > 0 else 1.0


# Ways of keeping the volume the ranking guard compares: the engagement minimums as in
# `keep_volume`, the total-score bar in finer steps, since it is the criterion that follows the
# draft's ranking, and any volume within this share of today's.
RANKING_TOTAL_STEPS = tuple(f / 50 for f in range(25, 76))
RANKING_VOLUME_SLACK = 0.01
# How many more of the draft's best-scored leads (as a share of them) another way of keeping
# the volume must qualify before the ranking guard takes it.
RANKING_MIN_GAIN = 0.05


@dataclass(frozen=True)
class RankedVolume:
    """The floors' shift and the scales that keep the volume, and how many of the leads the draft
    scores highest (as many as today's MQLs) they qualify: `agreement` for the ones chosen,
    `nearest` for the ones nearest the points' own move, which `keep_volume` picks."""

    shift: int
    engagement_scale: float
    total_scale: float
    agreement: float
    nearest: float

    @property
    def moved(self) -> bool:
        return self.agreement != self.nearest


def follow_ranking(
    rubric: Mapping[str, Any],
    current: Sequence[Rescored],
    draft: Sequence[Rescored],
    *,
    max_shift: int,
    mass_ratio: float,
    total_ratio: float = 1.0,
) -> RankedVolume:
    """`keep_volume`, guarded by the draft's own ranking. Floors and minimums that keep the
    volume can still qualify other leads than the ones the draft scores highest (a low grade
    floor with a low engagement minimum lets engagement alone decide), which undoes what the
    points learned; when another way of keeping the volume (within `RANKING_VOLUME_SLACK`)
    qualifies `RANKING_MIN_GAIN` more of those leads, the guard takes the one that qualifies
    the most (then the volume nearest today's, the scales nearest the points' move, the
    smallest shift)."""
    shift, scale, total_scale = keep_volume(
        rubric, current, draft, max_shift=max_shift, mass_ratio=mass_ratio, total_ratio=total_ratio
    )
    today = sum(qualifies(x, rubric, 0) for x in current)
    totals = np.asarray([x.fit + x.engagement for x in draft], dtype=float)
    top = np.zeros(len(draft), dtype=bool)
    top[np.argsort(-totals, kind="stable")[:today]] = True
    chosen = np.asarray([qualifies(x, rubric, shift, scale, total_scale) for x in draft], dtype=bool)
    nearest = float((chosen & top).sum()) / today if today else 1.0
    kept = RankedVolume(shift, scale, total_scale, nearest, nearest)
    if today == 0 or nearest >= 1 - RANKING_MIN_GAIN:
        return kept
    q = rubric.get("qualification") or {}
    min_total = q.get("min_total")
    # The grade criteria alone (the total-score bar is applied below, for each of its steps).
    graded = {**rubric, "qualification": {**q, "min_total": None}}
    shifts = np.arange(-max_shift, max_shift + 1)
    slack = max(1.0, RANKING_VOLUME_SLACK * today)
    best: tuple[tuple[float, ...], RankedVolume] | None = None
    for step in MINIMUM_STEPS:
        scale_step = mass_ratio * step
        grade_room = np.asarray([headroom(x, graded, scale_step) for x in draft], dtype=float)
        for total_step in RANKING_TOTAL_STEPS if min_total is not None else (1.0,):
            total_scale_step = total_ratio * total_step
            room = grade_room
            if min_total is not None:
                bar = scaled_minimum(float(min_total), total_scale_step)
                room = np.where(totals >= bar, np.inf, grade_room)
            order = np.argsort(room, kind="stable")
            rooms, tops = room[order], top[order]
            # Leads qualify at shift s when their headroom is at least s: a suffix of `rooms`.
            first = np.searchsorted(rooms, shifts, side="left")
            on_top = np.concatenate([np.cumsum(tops[::-1])[::-1], [0]])
            for s, i in zip(shifts, first, strict=True):
                mqls = len(rooms) - int(i)
                if abs(mqls - today) > slack:
                    continue
                key = (
                    -int(on_top[i]),
                    abs(mqls - today),
                    abs(step - 1) + abs(total_step - 1),
                    abs(int(s)),
                    int(s),
                )
                if best is None or key < best[0]:
                    agreement = int(on_top[i]) / today
                    best = (key, RankedVolume(int(s), scale_step, total_scale_step, agreement, nearest))
    if best is None or best[1].agreement - nearest < RANKING_MIN_GAIN:
        return kept
    return best[1]
