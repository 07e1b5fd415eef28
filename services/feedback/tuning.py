"""Rubric tuning from outcomes, as pure logic: evidence per rule and a draft of the same shape.

Only MQLs reach sales, so the evidence is the MQLs sales has judged (rejected, SQL, won or
lost); a lead merely accepted is still open and left out. For each rule we compare the
MQL→SQL rate of the leads it fired for with the rate of all judged leads (Wilson interval),
move its points along the log-odds ratio when the interval excludes the baseline, and then
move the qualification bar (the lowest fit band an MQL criterion admits) to reach a target
precision. Guardrails: a minimum number of outcomes, a maximum change per rule and per bar,
and a floor on the MQL volume kept, so one proposal never swings the agreement.

Features are the rules that fired at scoring time (what was known at capture and from
engagement), never the outcome itself, so the tuned rubric scores the lead and not the rep.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["raise", "lower", "keep", "too few", "add"]
TUNABLE_KINDS = ("fit", "negative", "engagement")
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Observation:
    """One judged MQL: the rules that fired for it (id -> points as scored) and its outcome."""

    rules: Mapping[str, float]
    sql: bool
    won: bool = False
    amount: float = 0.0
    hand_raiser: bool = False
    # The lead's profile as ingested (rule discovery reads it; the rubric's rules do not).
    profile: Mapping[str, Any] = field(default_factory=dict, compare=False)
    # How often the lead did each activity ("page_view /pricing": 3), for activity discovery.
    activity: Mapping[str, int] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Policy:
    min_outcomes: int = 30
    min_rule_leads: int = 8
    max_points_change: int = 10
    max_bar_change: int = 15
    points_per_log_odds: float = 8.0
    min_volume_kept: float = 0.5
    target_precision: float | None = None
    regularization: float = 1.0
    # How far the draft's MQL volume may move from today's before the proposal says so.
    volume_tolerance: float = 0.15
    # The most discovered rules one proposal adds to the rubric.
    max_rules_added: int = 5


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class RuleEvidence:
    rule_id: str
    kind: str
    points: float
    leads: int
    sql: int
    won: int
    revenue: float
    rate: float | None
    interval: Interval | None
    lift: float | None
    proposed_points: float
    verdict: Verdict


@dataclass(frozen=True)
class BarChange:
    grade: str
    current: float
    proposed: float
    precision_before: float | None
    precision_after: float | None
    volume_kept: float | None


@dataclass(frozen=True)
class Proposal:
    ready: bool
    reasons: tuple[str, ...]
    outcomes: int
    sql: int
    baseline_rate: float | None
    baseline_interval: Interval | None
    target_precision: float | None
    rules: tuple[RuleEvidence, ...]
    bar: BarChange | None
    draft: dict[str, Any] | None = field(default=None, compare=False)


def wilson(successes: int, trials: int, z: float = Z_95) -> Interval | None:
    """The Wilson score interval of a binomial proportion; None without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def _log_odds_ratio(a_yes: int, a_n: int, b_yes: int, b_n: int) -> float:
    # Haldane's correction keeps empty cells finite.
    a = (a_yes + 0.5) / (a_n - a_yes + 0.5)
    b = (b_yes + 0.5) / (b_n - b_yes + 0.5)
    return math.log(a / b)


def rule_catalogue(rubric: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every tunable rule of a rubric document: id -> (kind, rule)."""
    return {
        str(rule["id"]): (kind, rule)
        for kind in TUNABLE_KINDS
        for rule in rubric.get(kind) or ()
        if "id" in rule
    }


def _clamp_points(kind: str, points: float) -> float:
    # The rubric language keeps fit and engagement points positive and negative points <= 0.
    return min(points, 0.0) if kind == "negative" else max(points, 1.0)


def rule_evidence(
    rubric: Mapping[str, Any], observations: Sequence[Observation], policy: Policy
) -> list[RuleEvidence]:
    """Per rule: leads fired for, their MQL→SQL rate and interval, lift, and proposed points."""
    total = len(observations)
    sql_total = sum(o.sql for o in observations)
    baseline = sql_total / total if total else None
    rows = []
    for rule_id, (kind, rule) in rule_catalogue(rubric).items():
        points = float(rule["points"])
        fired = [o for o in observations if rule_id in o.rules]
        n, yes = len(fired), sum(o.sql for o in fired)
        interval = wilson(yes, n)
        rate = yes / n if n else None
        proposed = points
        verdict: Verdict = "too few"
        rest_n, rest_yes = total - n, sql_total - yes
        if n >= policy.min_rule_leads and rest_n >= policy.min_rule_leads and baseline is not None:
            verdict = "keep"
            assert interval is not None
            if interval.low > baseline or interval.high < baseline:
                step = policy.points_per_log_odds * _log_odds_ratio(yes, n, rest_yes, rest_n)
                step = max(-policy.max_points_change, min(policy.max_points_change, step))
                proposed = _clamp_points(kind, float(round(points + step)))
                if proposed != points:
                    verdict = "raise" if proposed > points else "lower"
        rows.append(
            RuleEvidence(
                rule_id=rule_id,
                kind=kind,
                points=points,
                leads=n,
                sql=yes,
                won=sum(o.won for o in fired),
                revenue=round(sum(o.amount for o in fired), 2),
                rate=rate,
                interval=interval,
                lift=rate / baseline if rate is not None and baseline else None,
                proposed_points=proposed,
                verdict=verdict,
            )
        )
    return rows


@dataclass(frozen=True)
class Rescored:
    fit: float
    engagement: float
    hand_raiser: bool
    sql: bool


def rescore(
    rubric: Mapping[str, Any], observations: Iterable[Observation], new_points: Mapping[str, float]
) -> list[Rescored]:
    """Each lead's fit and engagement under the proposed points (engagement keeps its decay and
    is capped again at the rule's cap)."""
    catalogue = rule_catalogue(rubric)
    rescored = []
    for o in observations:
        fit = engagement = 0.0
        for rule_id, scored in o.rules.items():
            entry = catalogue.get(rule_id)
            if entry is None:
                continue
            kind, rule = entry
            old, new = float(rule["points"]), new_points.get(rule_id, float(rule["points"]))
            if kind == "engagement":
                value = scored * new / old if old else scored
                cap = scaled_cap(rule, new)
                engagement += min(value, cap) if cap is not None else value
            else:
                fit += new
        rescored.append(Rescored(fit, engagement, o.hand_raiser, o.sql))
    return rescored


def scaled_cap(rule: Mapping[str, Any], new_points: float) -> float | None:
    """An engagement rule's cap under new points: it grows and shrinks with them, so the cap
    still counts as many activities as before (a cap of 15 at 5 points is three pricing views;
    at 15 points it must be 45 to stay three). The backtest and the draft both use this."""
    cap, old = rule.get("cap"), float(rule["points"])
    if cap is None:
        return None
    return float(cap) if not old or new_points == old else round(float(cap) * new_points / old, 2)


def bands(rubric: Mapping[str, Any]) -> list[tuple[str, float | None]]:
    return [
        (str(g["grade"]), None if g.get("min_fit") is None else float(g["min_fit"])) for g in rubric["grades"]
    ]


def bar_grade(rubric: Mapping[str, Any]) -> str | None:
    """The grade of the loosest MQL criterion: its band's floor is the qualification bar."""
    grades = [g for g, _ in bands(rubric)]
    criteria = (rubric.get("qualification") or {}).get("mql") or []
    ranked = [grades.index(c["grade_at_least"]) for c in criteria if c.get("grade_at_least") in grades]
    if not ranked:
        return None
    grade = grades[max(ranked)]
    return grade if dict(bands(rubric))[grade] is not None else None


def scaled_minimum(minimum: float, engagement_scale: float) -> float:
    """An MQL criterion's engagement minimum when the engagement points move by
    `engagement_scale` (their total over the scored leads, draft / today): whole points, so the
    draft reads as people write rubrics. The backtest and the draft both use this."""
    return minimum if engagement_scale == 1 else float(round(minimum * engagement_scale))


def qualifies(
    lead: Rescored,
    rubric: Mapping[str, Any],
    shift: float,
    engagement_scale: float = 1.0,
    total_scale: float = 1.0,
) -> bool:
    """Whether the lead is an MQL with every grade floor moved by `shift` and every engagement
    minimum scaled by `engagement_scale` (`scaled_minimum`), as the draft would be."""
    if lead.hand_raiser:
        return True
    shifted = [(g, None if m is None else m + shift) for g, m in bands(rubric)]
    grade_rank = next(i for i, (_, floor) in enumerate(shifted) if floor is None or lead.fit >= floor)
    grades = [g for g, _ in shifted]
    q = rubric.get("qualification") or {}
    for criterion in q.get("mql") or []:
        wanted = criterion.get("grade_at_least")
        minimum = scaled_minimum(float(criterion.get("min_engagement", 0)), engagement_scale)
        if wanted in grades and grade_rank <= grades.index(wanted) and lead.engagement >= minimum:
            return True
    min_total = q.get("min_total")
    return min_total is not None and lead.fit + lead.engagement >= scaled_minimum(
        float(min_total), total_scale
    )


def _precision(leads: Sequence[Rescored]) -> float | None:
    return sum(x.sql for x in leads) / len(leads) if leads else None


def choose_bar(
    rubric: Mapping[str, Any],
    rescored: Sequence[Rescored],
    *,
    target: float,
    policy: Policy,
    current_precision: float | None = None,
) -> BarChange | None:
    """Move the bar to where the MQLs it keeps are worth sales' time: each MQL costs `target`
    SQLs of effort, so the bar maximises SQLs - target x MQLs over the evidence (the smallest move
    on a tie), within `max_bar_change` and keeping `min_volume_kept` of today's MQLs. It is
    lowered only when the leads just above it convert at the target: leads below the bar never
    reached sales, so there is no evidence about them."""
    grade = bar_grade(rubric)
    if grade is None or not rescored:
        return None
    current = dict(bands(rubric))[grade]
    assert current is not None
    before = [x for x in rescored if qualifies(x, rubric, 0)]
    by_shift: dict[int, tuple[float | None, float, float]] = {}
    for shift in range(0, policy.max_bar_change + 1):
        kept = [x for x in rescored if qualifies(x, rubric, shift)]
        value = sum(x.sql for x in kept) - target * len(kept)
        by_shift[shift] = (_precision(kept), len(kept) / max(1, len(before)), value)
    allowed = [s for s, (_, kept, _) in by_shift.items() if kept >= policy.min_volume_kept]
    shift = max(allowed, key=lambda s: (round(by_shift[s][2], 9), -s)) if allowed else 0
    if shift == 0:
        near = [x for x in before if not x.hand_raiser and x.fit < current + policy.max_bar_change]
        if len(near) >= policy.min_rule_leads and (_precision(near) or 0) >= target:
            shift = -(policy.max_bar_change // 2)
    precision, kept_share, _ = by_shift.get(shift, (_precision(before), 1.0, 0.0))
    return BarChange(
        grade=grade,
        current=current,
        proposed=current + shift,
        precision_before=current_precision,
        precision_after=precision,
        volume_kept=kept_share,
    )


def propose(
    rubric: Mapping[str, Any],
    observations: Sequence[Observation],
    *,
    version: str,
    policy: Policy | None = None,
) -> Proposal:
    """The evidence table and, past the minimum sample, a draft rubric of the same shape."""
    policy = policy or Policy()
    total, sql = len(observations), sum(o.sql for o in observations)
    baseline = sql / total if total else None
    target = policy.target_precision
    if target is None and baseline is not None:
        target = min(0.9, baseline * 1.25 + 0.05)
    rules = rule_evidence(rubric, observations, policy)
    reasons: list[str] = []
    if total < policy.min_outcomes:
        reasons.append(f"only {total} judged MQLs; a proposal needs at least {policy.min_outcomes}")
        return Proposal(
            False, tuple(reasons), total, sql, baseline, wilson(sql, total), target, tuple(rules), None
        )
    assert target is not None
    new_points = {r.rule_id: r.proposed_points for r in rules}
    as_is = [x for x in rescore(rubric, observations, {}) if qualifies(x, rubric, 0)]
    bar = choose_bar(
        rubric,
        rescore(rubric, observations, new_points),
        target=target,
        policy=policy,
        current_precision=_precision(as_is),
    )
    changed = [r for r in rules if r.proposed_points != r.points]
    if not changed and (bar is None or bar.proposed == bar.current):
        reasons.append("the evidence supports the current rubric: nothing to change")
        return Proposal(
            False, tuple(reasons), total, sql, baseline, wilson(sql, total), target, tuple(rules), bar
        )
    draft = build_draft(rubric, new_points, bar, version=version, outcomes=total, rules=changed)
    return Proposal(True, (), total, sql, baseline, wilson(sql, total), target, tuple(rules), bar, draft)


def build_draft(
    rubric: Mapping[str, Any],
    new_points: Mapping[str, float],
    bar: BarChange | None,
    *,
    version: str,
    outcomes: int,
    rules: Sequence[RuleEvidence] = (),
    engagement_scale: float = 1.0,
    total_scale: float = 1.0,
) -> dict[str, Any]:
    """A copy of `rubric` with the proposed points (engagement caps scaled with them), every
    grade band shifted with the bar and every engagement minimum scaled by `engagement_scale`."""
    draft = copy.deepcopy(dict(rubric))
    draft["version"] = version
    for kind in TUNABLE_KINDS:
        for rule in draft.get(kind) or ():
            if rule.get("id") in new_points:
                new = float(new_points[rule["id"]])
                if kind == "engagement" and rule.get("cap") is not None:
                    rule["cap"] = _number(scaled_cap(rule, new) or rule["cap"])
                rule["points"] = _number(new)
    moves = _move_between_lists(draft)
    shift = 0.0 if bar is None else bar.proposed - bar.current
    if shift:
        for band in draft["grades"]:
            if band.get("min_fit") is not None:
                band["min_fit"] = _number(float(band["min_fit"]) + shift)
    changes = [f"{r.rule_id} {_number(r.points):+} -> {_number(r.proposed_points):+}" for r in rules]
    changes += moves
    if shift and bar is not None:
        changes.append(f"grade {bar.grade} floor {_number(bar.current)} -> {_number(bar.proposed)}")
    for criterion in (draft.get("qualification") or {}).get("mql") or []:
        before = float(criterion.get("min_engagement", 0))
        after = scaled_minimum(before, engagement_scale)
        if after != before:
            criterion["min_engagement"] = _number(after)
            changes.append(
                f"grade {criterion.get('grade_at_least')} engagement minimum "
                f"{_number(before)} -> {_number(after)}"
            )
    qualification = draft.get("qualification") or {}
    if qualification.get("min_total") is not None:
        before = float(qualification["min_total"])
        after = scaled_minimum(before, total_scale)
        if after != before:
            qualification["min_total"] = _number(after)
            changes.append(f"total score bar {_number(before)} -> {_number(after)}")
    draft["description"] = (
        f"Proposed by feedback from {outcomes} judged MQLs of {rubric.get('version')}: " + "; ".join(changes)
    )
    return draft


def _move_between_lists(draft: dict[str, Any]) -> list[str]:
    """Put each profile rule on the list its points' sign belongs to: a fit rule below 0 becomes
    a negative rule, a negative rule above 0 a fit rule, a fit rule at 0 leaves the rubric (a
    negative rule may hold 0). Scoring adds a profile rule's points whichever list holds it, so
    the move changes no score; it keeps the document valid and says what the rule now means."""
    fit, negative = list(draft.get("fit") or ()), list(draft.get("negative") or ())
    moves: list[str] = []
    kept_fit = []
    for rule in fit:
        if rule["points"] < 0:
            negative.append(rule)
            moves.append(f"{rule['id']} moves from fit to negative")
        elif rule["points"] == 0:
            moves.append(f"{rule['id']} leaves the rubric (0 points)")
        else:
            kept_fit.append(rule)
    kept_negative = []
    for rule in negative:
        if rule["points"] > 0:
            rule.pop("disqualify", None)
            kept_fit.append(rule)
            moves.append(f"{rule['id']} moves from negative to fit")
        else:
            kept_negative.append(rule)
    engagement = [r for r in draft.get("engagement") or () if r["points"] > 0]
    moves += [
        f"{r['id']} leaves the rubric (0 points)" for r in draft.get("engagement") or () if r["points"] <= 0
    ]
    if "engagement" in draft:
        draft["engagement"] = engagement
    if "fit" in draft or kept_fit:
        draft["fit"] = kept_fit
    if "negative" in draft or kept_negative:
        draft["negative"] = kept_negative
    return moves


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
