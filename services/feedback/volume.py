"""Keeping the MQL volume a draft promises: the grade floors and the engagement minimums move
together so the draft qualifies about as many of the scored leads as today's rubric, and the
guardrails that held a change back are named. Pure: no I/O."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import Any

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
