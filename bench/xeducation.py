"""`python -m bench.xeducation --data Leads.csv`: the rubric tuner on real leads (X Education).

Each lead is replayed as what Baton would know at capture and from engagement, through scoring's
real evaluator: (a) with the starter rubric, (b) with a points rubric the feedback tuner builds
from the training leads, and (c) a plain logistic regression on the same columns is the yardstick.
Outcomes are `Converted`. Prints the three ROC-AUCs on the test leads and writes
bench/results/xeducation-<UTC time>.json.

Time order, leak-free columns and how columns map to what Baton knows: `bench.xeducation_leads`.

The starter rubric knows none of these columns, so the tuned rubric comes from feedback's
product path, the code behind `POST /v1/proposals`: rule discovery on the leads' profiles (a
value rule per frequent value, >= 1 %, of each field and one per field left blank:
`services.feedback.discovery`), plus the bench's engagement candidates (each of the first k
visits, k = 1, 2, 3, 5, 8, 13, and steps on time on site and pages per visit at their training
deciles; feedback does not keep activities yet), fitted together with the starter's rules by the
same L2 logistic model and placed as fit or negative by sign (`propose_from_model`, engagement
candidates with a negative weight refitted away), at 10 points per unit of log-odds; the MQL bar
(`min_total`) maximises TPR - FPR (Youden's J) on the training leads.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from bench.xeducation_leads import (
    NOW,
    PROFILE_COLUMNS,
    XLead,
    read_leads,
    time_ordered_split,
    to_activities,
    to_profile,
)
from services.feedback.backtest import auc
from services.feedback.candidates import DiscoveryPolicy, profile_of
from services.feedback.discovery import discover
from services.feedback.logistic import propose_from_model
from services.feedback.tuning import TUNABLE_KINDS, Observation, Policy
from services.scoring.rubric import Rubric, load_rubric

VISIT_STEPS = (1, 2, 3, 5, 8, 13)
# A rubric built from scratch: no limit on how far points move or how many rules join, and 10
# points per unit of log-odds (the starter's rules do not fire here, so there is no mass to keep).
POLICY = Policy(
    min_outcomes=30,
    min_rule_leads=5,
    max_points_change=1000,
    max_bar_change=0,
    points_per_log_odds=10.0,
    max_rules_added=1000,
)
DISCOVERY = DiscoveryPolicy(min_support=5, min_share=0.01)


def engagement_candidates(train: Sequence[XLead]) -> list[dict[str, Any]]:
    """Engagement rules (1 point each, to be tuned): the free copy, each of the first k visits,
    and steps on time on site and pages per visit at their training deciles. Activity-count
    candidates are the bench's own (feedback does not keep activities yet); profile candidates
    come from feedback's discovery."""
    engagement: list[dict[str, Any]] = [
        {
            "id": "free-copy",
            "description": "Downloaded Mastering The Interview",
            "activity": "form_submission",
            "when": {"field": "form_id", "op": "equals", "value": "ebook-mastering-the-interview"},
            "points": 1,
            "max_occurrences": 1,
        }
    ]
    for k in VISIT_STEPS:
        engagement.append(
            {
                "id": f"visits-up-to-{k}",
                "description": f"Each of the first {k} visits",
                "activity": "page_view",
                "when": {"field": "page_path", "op": "equals", "value": "/visit"},
                "points": 1,
                "max_occurrences": k,
            }
        )
    for name, path, prop, values in (
        ("time-on-site", "/time-on-site", "minutes", [lead.minutes for lead in train if lead.minutes > 0]),
        ("pages-per-visit", "/visit", "pages", [lead.pages for lead in train if lead.pages > 0]),
    ):
        for q in sorted({round(float(v), 2) for v in np.quantile(values, np.linspace(0.1, 0.9, 9))}):
            engagement.append(
                {
                    "id": f"{name}-{q:g}".replace(".", "_"),
                    "description": f"{prop} >= {q:g}",
                    "activity": "page_view",
                    "when": [
                        {"field": "page_path", "op": "equals", "value": path},
                        {"field": f"properties.{prop}", "op": "range", "min": q},
                    ],
                    "points": 1,
                    "max_occurrences": 1,
                }
            )
    return engagement


def rubric_document(
    base: dict[str, Any],
    *,
    version: str,
    fit: list[Any],
    negative: list[Any],
    engagement: list[Any],
    min_total: float,
) -> dict[str, Any]:
    """`base` (the starter) with new rules and a total-score bar; its stages, bands and SLA stay."""
    document = dict(base, version=version, fit=fit, negative=negative, engagement=engagement)
    document["qualification"] = {"mql": [], "min_total": min_total, "hand_raiser_forms": []}
    return document


def scores(rubric: Rubric, leads: Sequence[XLead]) -> list[float]:
    return [rubric.evaluate(to_profile(lead), to_activities(lead), now=NOW).score for lead in leads]


def youden_bar(values: Sequence[float], outcomes: Sequence[bool]) -> float:
    """The total score bar that maximises TPR - FPR on the given leads."""
    positives = sum(outcomes) or 1
    negatives = (len(outcomes) - sum(outcomes)) or 1
    best, bar = -1.0, max(values) + 1
    for candidate in sorted(set(values)):
        tp = sum(1 for v, y in zip(values, outcomes, strict=True) if y and v >= candidate)
        fp = sum(1 for v, y in zip(values, outcomes, strict=True) if not y and v >= candidate)
        if tp / positives - fp / negatives > best:
            best, bar = tp / positives - fp / negatives, candidate
    return bar


def tuned_rubric(base: dict[str, Any], train: Sequence[XLead]) -> tuple[Rubric, dict[str, Any]]:
    """The rubric feedback's product path proposes from `train`: the starter's rules plus the
    engagement candidates, scored by scoring's evaluator; rule discovery on the leads' profiles
    (`services.feedback.discovery`) and the same proposal code as `POST /v1/proposals`
    (`propose_from_model`), with guardrails wide enough for a rubric built from scratch."""
    engagement = engagement_candidates(train)
    document = dict(base, version="candidates", engagement=[*base["engagement"], *engagement])
    candidates = Rubric.from_document(document)
    observations = []
    for lead in train:
        profile = to_profile(lead)
        fired = candidates.evaluate(profile, to_activities(lead), now=NOW).fired_rules
        observations.append(
            Observation(
                rules={r.rule_id: r.points for r in fired if r.kind in TUNABLE_KINDS},
                sql=lead.converted,
                profile=profile_of(profile.model_dump()),
            )
        )
    found = discover(document, observations, observations, policy=POLICY, discovery=DISCOVERY)
    result = propose_from_model(
        found.rubric,
        found.judged,
        found.scored,
        version="xeducation-tuned",
        policy=POLICY,
        candidates=found.candidates | {r["id"] for r in engagement},
    )
    draft = result.proposal.draft
    assert draft is not None, result.proposal.reasons
    draft["qualification"] = {"mql": [], "min_total": 0, "hand_raiser_forms": []}
    unbarred = Rubric.from_document(draft)
    draft["qualification"]["min_total"] = youden_bar(
        scores(unbarred, train), [lead.converted for lead in train]
    )
    model = result.sql_model
    assert model is not None
    evidence = {
        "coefficients": dict(zip(model.rule_ids, model.coefficients, strict=True)),
        "intercept": model.intercept,
        "candidates": len(found.candidates) + len(engagement),
        "rules_added": len(result.discovered),
        "rules_fitted": len(model.rule_ids),
        "guardrails": list(found.guardrails + found.refused),
    }
    return Rubric.from_document(draft), evidence


def logistic_auc(train: Sequence[XLead], test: Sequence[XLead]) -> float | None:
    """A plain L2 logistic regression on the same columns: one-hot values, scaled numbers."""

    def table(leads: Sequence[XLead]) -> list[list[Any]]:
        return [
            [lead.fields[c] or "" for c in PROFILE_COLUMNS]
            + [
                "yes" if lead.no_email else "no",
                "yes" if lead.free_copy else "no",
                lead.visits,
                lead.minutes,
                lead.pages,
            ]
            for lead in leads
        ]

    categorical = list(range(len(PROFILE_COLUMNS) + 2))
    numeric = [len(categorical), len(categorical) + 1, len(categorical) + 2]
    model = make_pipeline(
        ColumnTransformer(
            [
                ("values", OneHotEncoder(handle_unknown="ignore"), categorical),
                ("numbers", StandardScaler(), numeric),
            ]
        ),
        LogisticRegression(max_iter=2000),
    )
    x_train, x_test = np.asarray(table(train), dtype=object), np.asarray(table(test), dtype=object)
    model.fit(x_train, [lead.converted for lead in train])
    return auc(list(model.predict_proba(x_test)[:, 1]), [lead.converted for lead in test])


def evaluate(path: Path) -> dict[str, Any]:
    """The three AUCs on the time-ordered test split, and what the tuned rubric looks like."""
    train, test = time_ordered_split(read_leads(path))
    starter = load_rubric()
    tuned, evidence = tuned_rubric(starter.model_dump(mode="json"), train)
    outcomes = [lead.converted for lead in test]
    tuned_scores = scores(tuned, test)
    bar = tuned.qualification.min_total or 0
    mqls = [y for s, y in zip(tuned_scores, outcomes, strict=True) if s >= bar]
    figures = {
        "starter_rubric": auc(scores(starter, test), outcomes),
        "tuned_rubric": auc(tuned_scores, outcomes),
        "logistic_regression": logistic_auc(train, test),
    }
    result = {
        "data": str(path),
        "order": "Lead Number ascending (a capture sequence number; the file has no timestamp)",
        "train": len(train),
        "test": len(test),
        "test_conversion": sum(outcomes) / len(outcomes),
        "roc_auc": figures,
        "tuned_vs_logistic": (figures["tuned_rubric"] or 0) / (figures["logistic_regression"] or 1),
        "tuned_mql_bar": bar,
        "tuned_test_mql_share": len(mqls) / len(test),
        "tuned_test_mql_conversion": sum(mqls) / len(mqls) if mqls else None,
        "tuned_rubric": {
            k: [{"id": r.id, "points": r.points} for r in getattr(tuned, k)]
            for k in ("fit", "negative", "engagement")
        },
        "model": evidence,
    }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, required=True, help="path to X Education's Leads.csv")
    parser.add_argument("--results", type=Path, default=Path("bench/results"), help="folder for the JSON")
    args = parser.parse_args(argv)
    result = evaluate(args.data)
    auc_of = result["roc_auc"]
    print(f"X Education, {result['train']} train / {result['test']} test leads, ordered by {result['order']}")
    for name, label in (
        ("starter_rubric", "(a) starter rubric"),
        ("tuned_rubric", "(b) tuned points rubric"),
        ("logistic_regression", "(c) logistic regression"),
    ):
        print(f"  {label:<28} ROC-AUC {auc_of[name]:.3f}")
    print(
        f"  tuned / logistic: {result['tuned_vs_logistic']:.1%}; tuned MQL bar {result['tuned_mql_bar']:g} points "
        f"qualifies {result['tuned_test_mql_share']:.1%} of test leads, converting {result['tuned_test_mql_conversion'] or 0:.1%}"
    )
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"xeducation-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"  written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
