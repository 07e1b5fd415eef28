"""The backtest of a draft: the rubric as is and the draft replayed on the stored facts, lead by
lead, with exactly the caps, grade floors and engagement minimums `build_draft` writes. Pure:
numpy and scikit-learn, no I/O."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from services.feedback.tuning import Observation, Rescored, qualifies, rescore


@dataclass(frozen=True)
class Backtest:
    """The draft against the rubric as is, replayed on the stored facts.

    Volume counts every scored lead; MQL→SQL only judged ones, so `newly_qualified` says how
    many of the draft's MQLs today's rubric keeps from sales: they carry no evidence either way.
    """

    leads: int
    mqls_current: int
    mqls_draft: int
    volume_change: float | None
    judged_current: int
    judged_draft: int
    mql_to_sql_current: float | None
    mql_to_sql_draft: float | None
    newly_qualified: int
    auc_current: float | None
    auc_draft: float | None


def backtest(
    rubric: Mapping[str, Any],
    scored: Sequence[Observation],
    judged: Sequence[Observation],
    *,
    new_points: Mapping[str, float],
    shift: float,
    engagement_scale: float = 1.0,
    current_points: Mapping[str, float] | None = None,
    total_scale: float = 1.0,
) -> Backtest:
    """Who qualifies under the rubric as is and under the draft (points with their caps, grade
    floors and engagement minimums: exactly what `build_draft` writes), on the facts."""
    # `current_points` are today's where the document differs (discovered rules count 0 today).
    today = current_points or {}
    now, then = rescore(rubric, scored, today), rescore(rubric, scored, new_points)
    mqls_now = sum(qualifies(x, rubric, 0) for x in now)
    mqls_then = sum(qualifies(x, rubric, shift, engagement_scale, total_scale) for x in then)
    judged_now = [x for x in rescore(rubric, judged, today) if qualifies(x, rubric, 0)]
    judged_all = rescore(rubric, judged, new_points)
    judged_then = [x for x in judged_all if qualifies(x, rubric, shift, engagement_scale, total_scale)]
    return Backtest(
        leads=len(scored),
        mqls_current=mqls_now,
        mqls_draft=mqls_then,
        volume_change=mqls_then / mqls_now - 1 if mqls_now else None,
        judged_current=len(judged_now),
        judged_draft=len(judged_then),
        mql_to_sql_current=_rate(judged_now),
        mql_to_sql_draft=_rate(judged_then),
        newly_qualified=sum(
            qualifies(b, rubric, shift, engagement_scale, total_scale) and not qualifies(a, rubric, 0)
            for a, b in zip(now, then, strict=True)
        ),
        auc_current=auc(
            [x.fit + x.engagement for x in rescore(rubric, judged, today)], [o.sql for o in judged]
        ),
        auc_draft=auc([x.fit + x.engagement for x in judged_all], [o.sql for o in judged]),
    )


def auc(scores: Sequence[float], outcomes: Sequence[bool]) -> float | None:
    """ROC-AUC of a score against outcomes; None when only one outcome occurs."""
    if len(set(outcomes)) < 2:
        return None
    value = float(roc_auc_score(np.asarray(outcomes, dtype=bool), np.asarray(scores, dtype=float)))
    return None if math.isnan(value) else value


def _rate(leads: Sequence[Rescored]) -> float | None:
    return sum(x.sql for x in leads) / len(leads) if leads else None
