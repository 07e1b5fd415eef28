"""`python -m bench.xeducation --data Leads.csv`: the rubric tuner on real leads (X Education).

Each lead is replayed as what Baton would know at capture and from engagement, through scoring's
real evaluator: (a) with the starter rubric, (b) with a points rubric the feedback tuner builds
from the training leads, and (c) a plain logistic regression on the same columns is the yardstick.
Outcomes are `Converted`. Prints the three ROC-AUCs on the test leads and writes
bench/results/xeducation-<UTC time>.json.

Time order, leak-free columns and how columns map to what Baton knows: `bench.xeducation_leads`.

The starter rubric knows none of these columns, so the tuned rubric is built from a candidate
rule set generated from the training leads: one profile rule per frequent value (>= 1 %) of each
mapped field and one per field left blank; engagement rules counting up to k visits (k = 1, 2,
3, 5, 8, 13), and step rules on time on site and pages per visit at their training deciles. The
feedback tuner (`services.feedback.logistic`) fits its L2 logistic model on the rules as they fired
and turns the weights into integer points (10 points per unit of log-odds), placing each
profile rule as fit or negative by its sign and refitting without any engagement rule whose
weight comes out negative (`services.feedback.candidates`); the MQL bar (`min_total`) maximises
TPR - FPR (Youden's J) on the training leads.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
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
    slug,
    time_ordered_split,
    to_activities,
    to_profile,
)
from services.feedback.candidates import candidate_points, fit_with_positive_engagement
from services.feedback.logistic import auc, feature_rows
from services.feedback.tuning import Observation
from services.scoring.rubric import Rubric, load_rubric

POINTS_PER_LOG_ODDS = 10.0
MIN_SHARE = 0.01
VISIT_STEPS = (1, 2, 3, 5, 8, 13)


def candidate_rules(train: Sequence[XLead]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Rule documents (1 point each, to be tuned) and each rule's kind: profile or engagement."""
    rules: list[dict[str, Any]] = []
    kinds: dict[str, str] = {}
    floor = MIN_SHARE * len(train)
    for column, name in PROFILE_COLUMNS.items():
        # Conditions compare case-insensitively, so `Google` and `google` are one value.
        spelling = {(v or "").casefold(): v for lead in reversed(train) if (v := lead.fields[column])}
        counts = Counter(spelling.get((lead.fields[column] or "").casefold()) for lead in train)
        for value, n in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
            if n < floor or n == len(train):
                continue
            rule_id = f"{slug(column)}-{slug(value) if value else 'blank'}"[:100]
            when = (
                {"field": name, "op": "exists", "value": False}
                if value is None
                else {"field": name, "op": "in", "value": [value]}
            )
            rules.append(
                {"id": rule_id, "description": f"{column}: {value or 'blank'}", "when": when, "points": 1}
            )
            kinds[rule_id] = "profile"
    if sum(lead.no_email for lead in train) >= floor:
        rules.append(
            {
                "id": "do-not-email",
                "description": "Asked not to be emailed",
                "when": {"field": "consent", "op": "equals", "value": False},
                "points": 1,
            }
        )
        kinds["do-not-email"] = "profile"
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
    kinds.update(dict.fromkeys((r["id"] for r in engagement), "engagement"))
    return rules + engagement, kinds


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
    """The feedback tuner's points rubric for the candidate rules, fitted on `train`."""
    rules, kinds = candidate_rules(train)
    profile_rules = [r for r in rules if kinds[r["id"]] == "profile"]
    engagement_rules = [r for r in rules if kinds[r["id"]] == "engagement"]
    candidates = Rubric.from_document(
        rubric_document(
            base,
            version="candidates",
            fit=profile_rules,
            negative=[],
            engagement=engagement_rules,
            min_total=1,
        )
    )
    observations = []
    for lead in train:
        fired = candidates.evaluate(to_profile(lead), to_activities(lead), now=NOW).fired_rules
        observations.append(
            Observation(
                rules={r.rule_id: r.points for r in fired if r.kind != "qualification"}, sql=lead.converted
            )
        )
    document = candidates.model_dump(mode="json")
    rule_ids = [r["id"] for r in rules]
    model = fit_with_positive_engagement(
        feature_rows(document, observations, rule_ids),
        [o.sql for o in observations],
        rule_ids=rule_ids,
        kinds=kinds,
    )
    assert model is not None, "the training leads all ended the same way"
    placed = candidate_points(model, kinds, scale=POINTS_PER_LOG_ODDS)
    lists: dict[str, list[dict[str, Any]]] = {"fit": [], "negative": [], "engagement": []}
    for rule in rules:
        if rule["id"] in placed:
            kind, points = placed[rule["id"]]
            lists[kind].append(dict(rule, points=points))
    draft = rubric_document(base, version="xeducation-tuned", min_total=0, **lists)
    unbarred = Rubric.from_document(draft)
    draft["qualification"]["min_total"] = youden_bar(
        scores(unbarred, train), [lead.converted for lead in train]
    )
    evidence = {
        "coefficients": dict(zip(model.rule_ids, model.coefficients, strict=True)),
        "intercept": model.intercept,
        "candidates": len(rules),
        "rules_kept": len(placed),
        "rules_fitted": len(model.rule_ids),
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
