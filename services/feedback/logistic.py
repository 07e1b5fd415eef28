"""Rubric points from a regularized logistic model, turned back into a points rubric.

The features are the rubric's own rules as they fired at scoring time (known at capture and
from engagement, never an outcome): a fit or negative rule is 1 when it fired, an engagement
rule counts its (decayed, capped) occurrences, i.e. its scored points over its points. An L2
logistic regression of SQL on them gives each rule a weight in log-odds; one scale factor turns
the weights back into integer points of the rubric's own scale, so grades, the MQL criteria and
`min_total` keep their meaning. Pure: numpy and scikit-learn, no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from services.feedback.backtest import Backtest, backtest
from services.feedback.fitting import FittedModel, feature_rows, fit_keeping_positive, fit_logistic
from services.feedback.tuning import (
    BarChange,
    Observation,
    Policy,
    Proposal,
    RuleEvidence,
    Verdict,
    bands,
    bar_grade,
    build_draft,
    rescore,
    rule_catalogue,
    rule_evidence,
    wilson,
)
from services.feedback.volume import engagement_mass_ratio, follow_ranking, total_mass_ratio


@dataclass(frozen=True)
class RulePoints:
    """One rule's move: the model's points, then what the guardrails let through."""

    rule_id: str
    kind: str
    current: float
    model_points: float | None
    proposed: float
    clipped: bool
    evidence: bool


def points_scale(model: FittedModel, current: Mapping[str, float], fired: Mapping[str, int]) -> float | None:
    """Points per unit of log-odds that keeps the rubric's point mass: the sum over leads of
    the absolute points of the rules that fired for them is the same under the model's points
    as under today's, so the bands and thresholds stay on the scale both teams know."""
    today = sum(abs(current.get(r, 0)) * fired.get(r, 0) for r in model.rule_ids)
    weights = sum(abs(model.weight(r)) * fired.get(r, 0) for r in model.rule_ids)
    if weights <= 1e-9 or today <= 0:
        return None
    return today / weights


def integer_points(kind: str, weight: float, scale: float, *, disqualify: bool = False) -> int:
    """A weight as rubric points, rounded. A profile rule takes whatever sign the model gives:
    a fit rule that comes out negative moves to the negative list (a title group that rarely
    buys becomes a penalty), a negative one that comes out positive to the fit list, and one at
    0 leaves the rubric (`build_draft` does the moving). Engagement points stay at least 1 (the
    rubric language counts activity only upwards) and a disqualifying rule stays a penalty."""
    points = round(weight * scale)
    if kind == "engagement":
        return max(points, 1)
    return min(points, 0) if disqualify else points


def propose_points(
    rubric: Mapping[str, Any],
    model: FittedModel,
    *,
    scale: float,
    with_evidence: set[str],
    max_change: int,
) -> list[RulePoints]:
    """Every tunable rule's model points, clipped to `max_change` from today's. Rules without
    enough leads on both sides (`with_evidence`) keep their points."""
    rows = []
    for rule_id, (kind, rule) in rule_catalogue(rubric).items():
        current = float(rule["points"])
        if rule_id not in with_evidence or rule_id not in model.rule_ids:
            rows.append(RulePoints(rule_id, kind, current, None, current, False, False))
            continue
        weight = model.weight(rule_id)
        target = float(integer_points(kind, weight, scale, disqualify=bool(rule.get("disqualify"))))
        proposed = max(current - max_change, min(current + max_change, target))
        rows.append(RulePoints(rule_id, kind, current, target, proposed, proposed != target, True))
    return rows


@dataclass(frozen=True)
class ModelProposal:
    """A proposal whose points come from the model, with the model and the backtest as evidence."""

    proposal: Proposal
    sql_model: FittedModel | None = None
    won_model: FittedModel | None = None
    scale: float | None = None
    points: tuple[RulePoints, ...] = ()
    backtest: Backtest | None = None
    engagement_scale: float = 1.0
    held_back: tuple[str, ...] = ()
    # Discovered rules the draft adds, with their evidence (support, interval, lift).
    discovered: tuple[RuleEvidence, ...] = ()
    guardrails: tuple[str, ...] = ()
    # How much the total-score bar (`min_total`) moves, with the total scores.
    total_scale: float = 1.0


def propose_from_model(
    rubric: Mapping[str, Any],
    judged: Sequence[Observation],
    scored: Sequence[Observation],
    *,
    version: str,
    policy: Policy | None = None,
    candidates: Collection[str] = frozenset(),
) -> ModelProposal:
    """Fit SQL (and, with enough wins, won) on the judged MQLs' rules, turn the SQL weights into
    points (clipped to `max_points_change`), move the bar to keep today's MQL volume among all
    `scored` leads, and backtest the draft. No draft below `min_outcomes` judged MQLs."""
    policy = policy or Policy()
    total, sql = len(judged), sum(o.sql for o in judged)
    evidence = rule_evidence(rubric, judged, policy)
    lift = [r for r in evidence if r.rule_id not in candidates]
    baseline = sql / total if total else None

    def answer(
        reasons: tuple[str, ...],
        rules: Sequence[RuleEvidence] = lift,
        bar: BarChange | None = None,
        draft: dict[str, Any] | None = None,
    ) -> Proposal:
        return Proposal(
            ready=not reasons,
            reasons=reasons,
            outcomes=total,
            sql=sql,
            baseline_rate=baseline,
            baseline_interval=wilson(sql, total),
            target_precision=None,
            rules=tuple(rules),
            bar=bar,
            draft=draft,
        )

    if total < policy.min_outcomes:
        reason = f"only {total} judged MQLs; a proposal needs at least {policy.min_outcomes}"
        return ModelProposal(answer((reason,)))
    rule_ids = list(rule_catalogue(rubric))
    rows = feature_rows(rubric, judged, rule_ids)
    sql_model = fit_keeping_positive(
        rows,
        [o.sql for o in judged],
        rule_ids=rule_ids,
        positive={r for r in candidates if rule_catalogue(rubric)[r][0] == "engagement"},
        regularization=policy.regularization,
    )
    if sql_model is None:
        reason = f"all {total} judged MQLs ended the same way; the model has nothing to learn from"
        return ModelProposal(answer((reason,)))
    wins = sum(o.won for o in judged)
    won_model = None
    if policy.min_rule_leads <= wins:
        won_model = fit_logistic(
            rows,
            [o.won for o in judged],
            rule_ids=rule_ids,
            outcome="won",
            regularization=policy.regularization,
        )
    with_evidence = {r.rule_id for r in evidence if r.verdict != "too few"}
    current = {r.rule_id: r.points for r in lift}
    fired = {r.rule_id: r.leads for r in lift if r.rule_id in with_evidence}
    # The scale keeps today's rules' point mass; with none to keep, discovered rules get the
    # policy's points per unit of log-odds.
    scale = points_scale(sql_model, current, fired) or (policy.points_per_log_odds if candidates else None)
    if scale is None:
        reason = "no rule with enough leads on both sides moves the odds of an SQL"
        return ModelProposal(answer((reason,)), sql_model, won_model)
    points = propose_points(
        rubric, sql_model, scale=scale, with_evidence=with_evidence, max_change=policy.max_points_change
    )
    points, left_out = _choose_discovered(points, candidates, policy.max_rules_added)
    new_points = {p.rule_id: p.proposed for p in points}
    grade = bar_grade(rubric)
    shift = 0
    # Discovered rules are not in today's rubric: they score 0 there.
    zero = dict.fromkeys(candidates, 0.0)
    today, then = rescore(rubric, scored, zero), rescore(rubric, scored, new_points)
    engagement_scale = engagement_mass_ratio(today, then)
    total_scale = total_mass_ratio(today, then)
    ranked = None
    if grade is not None:
        ranked = follow_ranking(
            rubric,
            today,
            then,
            max_shift=policy.max_bar_change,
            mass_ratio=engagement_scale,
            total_ratio=total_scale,
        )
        shift, engagement_scale, total_scale = ranked.shift, ranked.engagement_scale, ranked.total_scale
    tested = backtest(
        rubric,
        scored,
        judged,
        new_points=new_points,
        shift=shift,
        engagement_scale=engagement_scale,
        current_points=zero,
        total_scale=total_scale,
    )
    held_back = guardrail_notes(points, tested, policy, shift=shift)
    if ranked is not None and ranked.moved:
        held_back += (
            f"the floors and minimums nearest the points' move qualified {ranked.nearest:.0%} of the "
            f"{tested.mqls_current} leads the draft scores highest; the ranking guard took ones "
            f"that keep the volume and qualify {ranked.agreement:.0%} of them",
        )
    if left_out:
        held_back += (
            f"max_rules_added ({policy.max_rules_added}) left out {len(left_out)} discovered rules "
            f"the model would add: {', '.join(left_out[:5])}{'...' if len(left_out) > 5 else ''}",
        )
    bar = _bar(rubric, grade, shift, tested)
    by_id = {p.rule_id: p for p in points}
    rules = [
        replace(r, proposed_points=by_id[r.rule_id].proposed, verdict=_verdict(by_id[r.rule_id]))
        for r in lift
    ]
    discovered = [
        replace(
            r,
            kind=_placed_kind(r.kind, by_id[r.rule_id].proposed),
            proposed_points=by_id[r.rule_id].proposed,
            verdict="add",
        )
        for r in evidence
        if r.rule_id in candidates and by_id[r.rule_id].proposed != 0
    ]
    changed = [r for r in [*rules, *discovered] if r.proposed_points != r.points]
    # Discovered rules the draft does not add are not part of it at all.
    base = _without(rubric, {r for r in candidates if new_points.get(r, 0) == 0})
    if not changed and shift == 0:
        proposal = answer(("the model supports the current rubric: nothing to change",), rules, bar)
    else:
        draft = build_draft(
            base,
            new_points,
            bar,
            version=version,
            outcomes=total,
            rules=changed,
            engagement_scale=engagement_scale,
            total_scale=total_scale,
        )
        proposal = answer((), rules, bar, draft)
    return ModelProposal(
        proposal,
        sql_model,
        won_model,
        scale,
        tuple(p for p in points if p.rule_id not in candidates),
        tested,
        engagement_scale,
        held_back,
        tuple(discovered),
        total_scale=total_scale,
    )


def _choose_discovered(
    points: Sequence[RulePoints], candidates: Collection[str], most: int
) -> tuple[list[RulePoints], list[str]]:
    """Keep the `most` discovered rules the model weighs most (with evidence and points); the
    others go back to 0 points. Also returns the ids left out only by the limit."""
    if not candidates:
        return list(points), []
    ranked = sorted(
        (p for p in points if p.rule_id in candidates and p.evidence and p.proposed != 0),
        key=lambda p: (-abs(p.model_points or 0), p.rule_id),
    )
    chosen = {p.rule_id for p in ranked[:most]}
    kept = [
        p if p.rule_id not in candidates or p.rule_id in chosen else replace(p, proposed=0.0) for p in points
    ]
    return kept, [p.rule_id for p in ranked[most:]]


def _placed_kind(kind: str, points: float) -> str:
    if kind == "engagement":
        return kind
    return "fit" if points > 0 else "negative"


def _without(rubric: Mapping[str, Any], rule_ids: Collection[str]) -> dict[str, Any]:
    document = dict(rubric)
    for kind in ("fit", "negative", "engagement"):
        if kind in document:
            document[kind] = [r for r in document[kind] or () if r.get("id") not in rule_ids]
    return document


def guardrail_notes(
    points: Sequence[RulePoints], tested: Backtest, policy: Policy, *, shift: int
) -> tuple[str, ...]:
    """Which guardrail held back which change, and by how much, in words people can check."""
    notes = [
        f"max_points_change ({policy.max_points_change}) held {p.rule_id} at {p.proposed:g} "
        f"(the model's {p.model_points:g}, {abs(p.model_points - p.proposed):g} points held back)"
        for p in points
        if p.clipped and p.model_points is not None
    ]
    if abs(shift) >= policy.max_bar_change and tested.volume_change is not None:
        notes.append(
            f"max_bar_change ({policy.max_bar_change}) stopped the grade floors at {shift:+d}; "
            f"MQL volume still moves {tested.volume_change:+.1%}"
        )
    if tested.volume_change is not None and abs(tested.volume_change) > policy.volume_tolerance:
        notes.append(
            f"MQL volume moves {tested.volume_change:+.1%}, outside the {policy.volume_tolerance:.0%} "
            "tolerance the floors and engagement minimums could reach"
        )
    return tuple(notes)


def _verdict(points: RulePoints) -> Verdict:
    if not points.evidence:
        return "too few"
    if points.proposed == points.current:
        return "keep"
    return "raise" if points.proposed > points.current else "lower"


def _bar(rubric: Mapping[str, Any], grade: str | None, shift: int, tested: Backtest) -> BarChange | None:
    if grade is None:
        return None
    floor = dict(bands(rubric))[grade]
    assert floor is not None
    return BarChange(
        grade=grade,
        current=floor,
        proposed=floor + shift,
        precision_before=tested.mql_to_sql_current,
        precision_after=tested.mql_to_sql_draft,
        volume_kept=tested.mqls_draft / tested.mqls_current if tested.mqls_current else None,
    )
