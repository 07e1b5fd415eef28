"""An L2 logistic model of an outcome on a rubric's rules as features: a fit or negative rule
is 1 when it fired, an engagement rule counts its (decayed, capped) occurrences. Pure: numpy and
scikit-learn, no I/O (`logistic` turns the weights into points)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from services.feedback.tuning import Observation, rule_catalogue


@dataclass(frozen=True)
class FittedModel:
    """An L2 logistic model of one outcome on rule features; `coefficients` in rule order."""

    outcome: str
    rule_ids: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    samples: int
    positives: int
    regularization: float

    def weight(self, rule_id: str) -> float:
        return self.coefficients[self.rule_ids.index(rule_id)]


def feature_rows(
    rubric: Mapping[str, Any], observations: Sequence[Observation], rule_ids: Sequence[str]
) -> list[list[float]]:
    """Each lead's features: 1 per fit/negative rule that fired, occurrences per engagement rule."""
    catalogue = rule_catalogue(rubric)
    per_unit = [
        float(catalogue[r][1]["points"]) if catalogue[r][0] == "engagement" else None for r in rule_ids
    ]
    rows = []
    for observation in observations:
        row = []
        for rule_id, points in zip(rule_ids, per_unit, strict=True):
            scored = observation.rules.get(rule_id)
            if scored is None:
                row.append(0.0)
            elif points is not None:
                row.append(scored / points if points else 0.0)
            else:
                row.append(1.0)
        rows.append(row)
    return rows


def fit_logistic(
    rows: Sequence[Sequence[float]],
    outcomes: Sequence[bool],
    *,
    rule_ids: Sequence[str],
    outcome: str = "sql",
    regularization: float = 1.0,
) -> FittedModel | None:
    """L2-regularized logistic regression (`regularization` is scikit-learn's C: smaller is
    stronger); None when the outcomes are all the same and there is nothing to learn."""
    positives = sum(bool(y) for y in outcomes)
    if not rows or positives in {0, len(outcomes)}:
        return None
    x = np.asarray(rows, dtype=float).reshape(len(rows), len(rule_ids))
    model = LogisticRegression(C=regularization, max_iter=2000)
    model.fit(x, np.asarray([bool(y) for y in outcomes]))
    return FittedModel(
        outcome=outcome,
        rule_ids=tuple(rule_ids),
        coefficients=tuple(float(c) for c in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        samples=len(rows),
        positives=positives,
        regularization=regularization,
    )


def fit_keeping_positive(
    rows: Sequence[Sequence[float]],
    outcomes: Sequence[bool],
    *,
    rule_ids: Sequence[str],
    positive: Collection[str],
    regularization: float = 1.0,
) -> FittedModel | None:
    """`fit_logistic`, refitted without each rule of `positive` whose weight comes out negative
    (the most negative first) until none does: engagement points are positive in the rubric
    language, so such a candidate cannot be placed and the other rules carry what it meant."""
    kept = list(range(len(rule_ids)))
    while True:
        model = fit_logistic(
            [[row[i] for i in kept] for row in rows],
            outcomes,
            rule_ids=[rule_ids[i] for i in kept],
            regularization=regularization,
        )
        if model is None:
            return None
        negative = [
            (weight, i)
            for i, weight in zip(kept, model.coefficients, strict=True)
            if rule_ids[i] in positive and weight < 0
        ]
        if not negative:
            return model
        kept.remove(min(negative)[1])
