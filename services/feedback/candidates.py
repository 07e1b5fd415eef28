"""Points for a candidate rule set: rules a new data source suggests, with no points yet.

The tuner fits the same L2 logistic model as for a rubric's own rules, but a candidate has no
list yet: a profile candidate becomes a fit rule when its weight is positive and a negative rule
when it is negative. Engagement points are positive in the rubric language, so an engagement
candidate with a negative weight is dropped and the model refitted without it (the most negative
first) until every engagement weight is positive: the other rules then carry what it meant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.feedback.logistic import FittedModel, fit_logistic


def fit_with_positive_engagement(
    rows: Sequence[Sequence[float]],
    outcomes: Sequence[bool],
    *,
    rule_ids: Sequence[str],
    kinds: Mapping[str, str],
    regularization: float = 1.0,
) -> FittedModel | None:
    """The model over the candidates that survive the sign constraint on engagement."""
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
            if kinds[rule_ids[i]] == "engagement" and weight < 0
        ]
        if not negative:
            return model
        kept.remove(min(negative)[1])


def candidate_points(
    model: FittedModel, kinds: Mapping[str, str], *, scale: float
) -> dict[str, tuple[str, int]]:
    """Points for candidate rules that have none yet (a new data source's columns): a profile
    candidate (`kinds[id] == "profile"`) becomes a fit rule when its weight is positive and a
    negative rule when it is negative; an engagement candidate keeps only a positive weight,
    since engagement points are positive. Candidates whose points round to 0 are left out."""
    placed = {}
    for rule_id, weight in zip(model.rule_ids, model.coefficients, strict=True):
        points = round(weight * scale)
        if points == 0 or (kinds[rule_id] == "engagement" and points < 0):
            continue
        kind = "engagement" if kinds[rule_id] == "engagement" else ("fit" if points > 0 else "negative")
        placed[rule_id] = (kind, points)
    return placed
