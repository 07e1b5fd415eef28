"""Backtesting a draft against the active rubric, and diffing two rubrics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.scoring.backtest import LeadHistory, backtest, diff_rubrics, replay
from services.scoring.evaluation import Activity, Profile
from services.scoring.rubric import Rubric, load_rubric

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ACTIVE = load_rubric()


def variant(**changes: Any) -> Rubric:
    document = ACTIVE.model_dump(mode="json")
    document.update(changes)
    return Rubric.from_document(document)


def history(*forms: tuple[str, float], **profile: Any) -> LeadHistory:
    activities = [
        Activity(
            type="form_submission", occurred_at=NOW - timedelta(days=age), properties={"form_id": form_id}
        )
        for form_id, age in forms
    ]
    return LeadHistory(uuid.uuid4(), Profile(email=profile.pop("email", "x@acme.io"), **profile), activities)


class TestReplay:
    def test_a_lead_qualifies_at_the_first_moment_it_meets_the_rule(self) -> None:
        lead = history(("newsletter", 30), ("demo-request", 20), ("newsletter", 1))
        first_mql, last = replay(ACTIVE, lead)
        assert first_mql is not None
        assert first_mql.evaluated_at == NOW - timedelta(days=20)
        assert last is not None
        assert last.evaluated_at == NOW - timedelta(days=1)

    def test_a_lead_without_activities_has_no_evaluation(self) -> None:
        assert replay(ACTIVE, history()) == (None, None)


class TestBacktest:
    def test_same_rubric_changes_nothing(self) -> None:
        leads = [history(("demo-request", 1)), history(("newsletter", 1)), history()]
        report = backtest(ACTIVE, ACTIVE, leads)
        assert report.leads == 2
        assert report.active.mqls == report.draft.mqls == 1
        assert (report.newly_qualified, report.dropped_out) == (0, 0)

    def test_dropping_a_hand_raiser_form_drops_its_leads(self) -> None:
        qualification = ACTIVE.qualification.model_dump(mode="json")
        qualification["hand_raiser_forms"] = ["demo-request"]
        draft = variant(version="draft-1", qualification=qualification)
        contact = history(("contact-sales", 1))
        demo = history(("demo-request", 1))
        report = backtest(ACTIVE, draft, [contact, demo])
        assert report.dropped_out_sample == [contact.lead_id]
        assert report.draft.by_reason == {"hand_raiser": 1}
        assert report.draft.version == "draft-1"

    def test_a_lower_threshold_qualifies_more_leads(self) -> None:
        qualification = ACTIVE.qualification.model_dump(mode="json")
        qualification["min_total"] = 5
        lead = history(("newsletter", 0))
        report = backtest(ACTIVE, variant(version="draft-2", qualification=qualification), [lead])
        assert report.newly_qualified_sample == [lead.lead_id]
        assert report.active.by_grade == report.draft.by_grade == {"D": 1}


class TestDiff:
    def test_identical_rubrics_have_no_differences(self) -> None:
        diff = diff_rubrics(ACTIVE, ACTIVE)
        assert diff.rules == []
        assert diff.changed_sections == []

    def test_rules_added_removed_and_changed_are_listed(self) -> None:
        document = ACTIVE.model_dump(mode="json")
        document["version"] = "next"
        document["fit"] = [r for r in document["fit"] if r["id"] != "company-known"]
        document["fit"][0]["points"] = 30
        document["negative"].append(
            {
                "id": "no-phone",
                "description": "No phone",
                "when": [{"field": "phone", "op": "exists", "value": False}],
                "points": -1,
            }
        )
        document["sla"][0]["minutes"] = 10
        diff = diff_rubrics(ACTIVE, Rubric.from_document(document))
        assert {(c.section, c.rule_id, c.change) for c in diff.rules} == {
            ("fit", "company-known", "removed"),
            ("fit", "title-executive", "changed"),
            ("negative", "no-phone", "added"),
        }
        changed = next(c for c in diff.rules if c.change == "changed")
        assert changed.before is not None
        assert changed.after is not None
        assert (changed.before["points"], changed.after["points"]) == (25, 30)
        assert diff.changed_sections == ["sla"]
        assert (diff.from_version, diff.to_version) == ("2026.11-starter", "next")


class TestOutcomeMetrics:
    def test_precision_recall_and_sql_rate_use_sales_outcomes(self) -> None:
        won = history(("demo-request", 1))
        won = LeadHistory(won.lead_id, won.profile, won.activities, frozenset({"accepted", "won"}))
        rejected = history(("contact-sales", 1))
        rejected = LeadHistory(
            rejected.lead_id, rejected.profile, rejected.activities, frozenset({"rejected"})
        )
        missed = history(("newsletter", 1))
        missed = LeadHistory(missed.lead_id, missed.profile, missed.activities, frozenset({"sql"}))
        unworked = history(("demo-request", 2))

        report = backtest(ACTIVE, ACTIVE, [won, rejected, missed, unworked])
        assert report.leads_with_good_outcome == 2
        active = report.active
        assert (active.mqls, active.mqls_with_outcome) == (3, 2)
        assert active.precision == 0.5
        assert active.recall == 0.5
        assert active.mql_to_sql_rate == 0.5

    def test_metrics_are_absent_without_outcomes(self) -> None:
        report = backtest(ACTIVE, ACTIVE, [history(("demo-request", 1))])
        assert (report.active.precision, report.active.recall, report.active.mql_to_sql_rate) == (
            None,
            None,
            None,
        )
