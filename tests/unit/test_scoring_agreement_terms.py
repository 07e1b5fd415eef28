"""The agreement both teams sign: personas, hand-raisers from the agreement only, sales'
commitments per tier, the revenue goal walked back to marketing's MQL commitment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.scoring.backtest import diff_rubrics
from services.scoring.evaluation import Activity, Profile
from services.scoring.reference_evaluation import evaluate
from services.scoring.rubric import Rubric, RubricInvalid
from tests.unit.test_scoring_rubric import minimal

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)

PLAN: dict[str, Any] = {
    "period_start": "2027-01-01",
    "period_end": "2027-03-31",
    "revenue_goal": {"amount": "1200000", "currency": "EUR"},
    "average_deal_size": {"amount": "30000", "currency": "EUR"},
    "rates": {
        "mql_to_sql": {"rate": 0.4, "measured": 0.38, "low": 0.31, "high": 0.45},
        "sql_to_won": {"rate": 0.25},
        "lead_to_mql": {"rate": 0.2},
    },
    "acceptance_commitment": 0.6,
}
PERSONAS: list[dict[str, Any]] = [
    {
        "id": "revops-leader",
        "name": "RevOps leader",
        "when": [{"field": "job_title", "op": "contains", "value": ["revenue", "revops"]}],
    },
    {
        "id": "big-company",
        "name": "Anyone at a big company",
        "when": {"field": "company_size", "op": "range", "min": 1000},
    },
]


def agreement(**overrides: Any) -> dict[str, Any]:
    document = minimal(
        version="2027.q1",
        personas=PERSONAS,
        plan=PLAN,
        nurture={"recycle_cooldown_days": 21},
        sla=[
            {
                "grade": "A",
                "tier": "A",
                "minutes": 5,
                "accept_minutes": 30,
                "contact_minutes": 60,
                "min_attempts": 6,
                "attempt_business_days": 10,
            },
            {"grade": "B", "tier": "B", "minutes": 60, "min_attempts": 3, "attempt_business_days": 5},
            {"grade": "C", "tier": "C", "minutes": 1440},
        ],
    )
    document.update(overrides)
    return document


def activity(type_: str, *, hours_ago: float = 1, **properties: str) -> Activity:
    return Activity(type=type_, occurred_at=NOW - timedelta(hours=hours_ago), properties=properties)


def test_the_revenue_goal_derives_marketings_mql_commitment() -> None:
    derived = Rubric.from_document(agreement()).plan.derive()  # type: ignore[union-attr]
    # 1.2M / 30k = 40 won deals; / 25 % = 160 SQLs; / 40 % = 400 MQLs; / 20 % = 2000 leads.
    assert (derived.won_deals_needed, derived.sqls_needed, derived.mql_commitment) == (40, 160, 400)
    assert derived.leads_needed == 2000
    assert derived.accepted_mqls_committed == 240
    assert (derived.period_start, derived.period_end) == (date(2027, 1, 1), date(2027, 3, 31))


def test_a_need_is_rounded_up_never_short() -> None:
    plan = {**PLAN, "rates": {"mql_to_sql": {"rate": 0.3}, "sql_to_won": {"rate": 0.3}}}
    derived = Rubric.from_document(agreement(plan=plan)).plan.derive()  # type: ignore[union-attr]
    assert derived.mql_commitment == 445  # 40 / 0.09 = 444.4…


def test_a_goal_and_a_deal_size_in_different_currencies_are_refused() -> None:
    plan = {**PLAN, "average_deal_size": {"amount": "30000", "currency": "USD"}}
    with pytest.raises(RubricInvalid) as caught:
        Rubric.from_document(agreement(plan=plan))
    assert "different currencies" in str(caught.value.errors)


def test_activation_terms_carry_the_commitments_and_the_derived_number() -> None:
    terms = Rubric.from_document(agreement()).terms()
    assert terms.personas == ["revops-leader", "big-company"]
    assert terms.mql_commitment == 400
    assert terms.acceptance_commitment == 0.6
    assert (terms.revenue_goal, terms.currency) == (Decimal("1200000"), "EUR")
    assert terms.recycle_cooldown_days == 21
    tier_a = next(t for t in terms.tiers if t.grade == "A")
    assert (tier_a.accept_minutes, tier_a.contact_minutes, tier_a.min_attempts) == (30, 60, 6)
    assert tier_a.attempt_business_days == 10


def test_the_first_matching_persona_names_the_lead() -> None:
    rubric = Rubric.from_document(agreement())
    both = Profile(email="a@b.c", job_title="VP Revenue", company_size=5000)
    assert rubric.persona_for(both) == "revops-leader"
    assert rubric.persona_for(Profile(email="a@b.c", company_size=5000)) == "big-company"
    assert rubric.persona_for(Profile(email="a@b.c")) is None


def test_persona_ids_are_unique() -> None:
    errors = errors_text(agreement(personas=[PERSONAS[0], PERSONAS[0]]))
    assert "duplicate persona id: revops-leader" in errors


def test_hand_raiser_min_grade_must_be_a_known_grade() -> None:
    qualification = {"hand_raiser_forms": ["demo-request"], "hand_raiser_min_grade": "Z"}
    assert "unknown grade 'Z'" in errors_text(agreement(qualification=qualification))


class TestHandRaisers:
    def test_an_event_the_agreement_names_qualifies_at_once(self) -> None:
        rubric = Rubric.from_document(
            agreement(qualification={"min_total": 1000, "hand_raiser_activities": ["event_attended"]})
        )
        history = [activity("page_view"), activity("event_attended", hours_ago=2)]
        result = rubric.evaluate(Profile(email="a@b.c"), history, now=NOW)
        assert result.qualification_reason == "hand_raiser"
        assert "hand-raiser event 'event_attended'" in result.fired_rules[-1].reason
        assert_same_as_reference(rubric, Profile(email="a@b.c"), history)

    def test_a_hand_raiser_below_the_agreed_grade_does_not_qualify_by_itself(self) -> None:
        qualification = {
            "min_total": 1000,
            "hand_raiser_forms": ["demo-request"],
            "hand_raiser_min_grade": "B",
        }
        rubric = Rubric.from_document(agreement(qualification=qualification))
        history = [activity("form_submission", form_id="demo-request")]
        small = rubric.evaluate(Profile(email="a@b.c", company_size=10), history, now=NOW)
        big = rubric.evaluate(Profile(email="a@b.c", company_size=5000), history, now=NOW)
        assert (small.grade, small.is_mql) == ("C", False)
        assert (big.grade, big.qualification_reason) == ("A", "hand_raiser")
        for profile in (Profile(email="a@b.c", company_size=10), Profile(email="a@b.c", company_size=5000)):
            assert_same_as_reference(rubric, profile, history)

    def test_a_source_flag_alone_qualifies_nobody(self) -> None:
        rubric = Rubric.from_document(
            agreement(qualification={"min_total": 1000, "hand_raiser_forms": ["x"]})
        )
        history = [activity("form_submission", form_id="newsletter", hand_raiser="true")]
        assert not rubric.evaluate(Profile(email="a@b.c"), history, now=NOW).is_mql
        assert_same_as_reference(rubric, Profile(email="a@b.c"), history)


def test_the_versions_diff_names_the_agreement_sections_that_changed() -> None:
    old = Rubric.from_document(agreement())
    plan = {**PLAN, "revenue_goal": {"amount": "1500000", "currency": "EUR"}}
    new = Rubric.from_document(
        agreement(version="2027.q1-b", plan=plan, nurture={"recycle_cooldown_days": 30})
    )
    assert set(diff_rubrics(old, new).changed_sections) == {"plan", "nurture"}


def test_older_rubrics_without_the_new_sections_still_load() -> None:
    rubric = Rubric.from_document(minimal())
    assert (rubric.personas, rubric.plan, rubric.nurture.recycle_cooldown_days) == ([], None, 30)
    assert rubric.terms().mql_commitment is None


def errors_text(document: dict[str, Any]) -> str:
    with pytest.raises(RubricInvalid) as caught:
        Rubric.from_document(document)
    return str(caught.value.errors)


def assert_same_as_reference(rubric: Rubric, profile: Profile, history: list[Activity]) -> None:
    compiled = rubric.evaluate(profile, history, now=NOW)
    reference = evaluate(rubric, profile, history, now=NOW)
    assert (compiled.is_mql, compiled.qualification_reason, compiled.fired_rules) == (
        reference.is_mql,
        reference.qualification_reason,
        reference.fired_rules,
    )
