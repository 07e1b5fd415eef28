"""The rubric language: loading, validation errors with paths, operators, evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from services.scoring.evaluation import Activity, Profile
from services.scoring.rubric import Rubric, RubricInvalid, load_rubric

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def minimal(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "version": "test-1",
        "name": "Test",
        "stages": [{"id": "mql", "name": "MQL", "definition": "qualified"}],
        "fit": [
            {
                "id": "big",
                "description": "Big company",
                "when": {"field": "company_size", "op": "range", "min": 1000},
                "points": 40,
            }
        ],
        "negative": [],
        "engagement": [
            {
                "id": "forms",
                "description": "Forms",
                "activity": "form_submission",
                "points": 10,
                "cap": 25,
                "half_life_days": 10,
            }
        ],
        "grades": [{"grade": "A", "min_fit": 40}, {"grade": "B", "min_fit": 20}, {"grade": "C"}],
        "qualification": {"mql": [{"grade_at_least": "A", "min_engagement": 10}], "min_total": 200},
        "sla": [
            {"grade": "A", "tier": "A", "minutes": 5},
            {"grade": "B", "tier": "B", "minutes": 60},
            {"grade": "C", "tier": "C", "minutes": 1440},
        ],
    }
    document.update(overrides)
    return document


def errors_of(document: object) -> list[dict[str, Any]]:
    with pytest.raises(RubricInvalid) as caught:
        Rubric.from_document(document)
    return caught.value.errors


def form(form_id: str, *, days_ago: float = 0, **extra: str) -> Activity:
    return Activity(
        type="form_submission",
        occurred_at=NOW - timedelta(days=days_ago),
        properties={"form_id": form_id, "source": "form", **extra},
    )


class TestStarterRubric:
    def test_loads_from_the_package(self) -> None:
        rubric = load_rubric()
        assert rubric.version == "2026.11-starter"
        assert [g.grade for g in rubric.grades] == ["A", "B", "C", "D"]
        assert {t.grade: t.minutes for t in rubric.sla} == {"A": 5, "B": 60, "C": 1440, "D": 1440}
        assert {"subscriber", "mql", "sql", "recycled"} <= {s.id for s in rubric.stages}

    def test_loads_from_a_path(self, tmp_path: Any) -> None:
        path = tmp_path / "r.yaml"
        path.write_text(yaml.safe_dump(minimal()))
        assert load_rubric(path).version == "test-1"

    def test_demo_request_qualifies_at_once(self) -> None:
        result = load_rubric().evaluate(Profile(email="x@unknown.org"), [form("demo-request")], now=NOW)
        assert result.is_mql
        assert result.qualification_reason == "hand_raiser"
        assert any(r.kind == "qualification" for r in result.fired_rules)

    def test_contact_sales_qualifies_at_once(self) -> None:
        result = load_rubric().evaluate(Profile(email="x@unknown.org"), [form("Contact-Sales")], now=NOW)
        assert result.qualification_reason == "hand_raiser"

    def test_newsletter_signup_of_a_nobody_does_not_qualify(self) -> None:
        result = load_rubric().evaluate(Profile(email="x@gmail.com"), [form("newsletter")], now=NOW)
        assert not result.is_mql
        assert result.grade == "D"
        assert result.sla_tier == "D"
        assert result.sla_minutes == 1440
        assert {r.rule_id for r in result.fired_rules} == {"free-mail", "form-submission"}
        assert result.fit_score == -20

    def test_senior_buyer_at_good_company_engaged_enough_qualifies_by_threshold(self) -> None:
        profile = Profile(
            email="ada@acme.io",
            job_title="VP Marketing",
            company="Acme",
            company_size=800,
            country="US",
            industry="SaaS",
        )
        activities = [form("newsletter"), form("ebook-pipeline")]
        result = load_rubric().evaluate(profile, activities, now=NOW)
        assert result.grade == "A"
        assert result.engagement_score == 30
        assert result.is_mql
        assert result.qualification_reason == "threshold"
        assert result.sla_minutes == 5

    def test_competitor_is_never_qualified_even_by_a_demo_request(self) -> None:
        result = load_rubric().evaluate(
            Profile(email="spy@hubspot.com", job_title="CEO"), [form("demo-request")], now=NOW
        )
        assert result.disqualified
        assert not result.is_mql

    def test_student_loses_points(self) -> None:
        result = load_rubric().evaluate(Profile(email="s@uni.edu", job_title="PhD Student"), [], now=NOW)
        assert result.fit_score == -30
        assert [r.rule_id for r in result.fired_rules] == ["student"]


class TestValidation:
    def test_unknown_profile_field_is_an_error_with_its_path(self) -> None:
        document = minimal()
        document["fit"][0]["when"] = [{"field": "job_titel", "op": "equals", "value": "CEO"}]
        (error,) = errors_of(document)
        assert error["loc"] == ["fit", 0, "when", 0, "equals", "field"]
        assert "unknown lead field 'job_titel'" in error["msg"]

    def test_activity_field_in_a_fit_rule_is_an_error(self) -> None:
        document = minimal()
        document["fit"][0]["when"] = {"field": "form_id", "op": "exists"}
        assert errors_of(document)[0]["loc"][-1] == "field"

    def test_unknown_activity_field_is_an_error(self) -> None:
        document = minimal()
        document["engagement"][0]["when"] = {"field": "job_title", "op": "exists"}
        assert "unknown activity field" in errors_of(document)[0]["msg"]

    def test_custom_attribute_and_activity_properties_are_allowed(self) -> None:
        document = minimal()
        document["fit"][0]["when"] = {"field": "attributes.plan", "op": "equals", "value": "pro"}
        document["engagement"][0]["when"] = {"field": "properties.topic", "op": "exists"}
        Rubric.from_document(document)

    def test_unknown_activity_type_is_an_error(self) -> None:
        document = minimal()
        document["engagement"][0]["activity"] = "carrier_pigeon"
        assert errors_of(document)[0]["loc"] == ["engagement", 0, "activity"]

    def test_every_error_is_reported_at_once(self) -> None:
        document = minimal(version="has spaces")
        document["fit"][0]["points"] = -5
        document["fit"][0]["when"] = {"field": "job_title", "op": "regex", "value": "("}
        document["engagement"][0]["half_life_days"] = 0
        locs = {tuple(e["loc"]) for e in errors_of(document)}
        assert locs == {
            ("version",),
            ("fit", 0, "points"),
            ("fit", 0, "when", 0, "regex", "value"),
            ("engagement", 0, "half_life_days"),
        }

    def test_unknown_operator_is_an_error(self) -> None:
        document = minimal()
        document["fit"][0]["when"] = {"field": "country", "op": "like", "value": "U%"}
        assert errors_of(document)[0]["type"] == "union_tag_invalid"

    def test_unknown_keys_are_errors_not_ignored(self) -> None:
        document = minimal()
        document["fit"][0]["pionts"] = 5
        assert errors_of(document)[0]["loc"] == ["fit", 0, "pionts"]

    def test_range_needs_a_bound(self) -> None:
        document = minimal()
        document["fit"][0]["when"] = {"field": "company_size", "op": "range"}
        assert "at least one of min and max" in errors_of(document)[0]["msg"]

    def test_range_bounds_must_be_ordered(self) -> None:
        document = minimal()
        document["fit"][0]["when"] = {"field": "company_size", "op": "range", "min": 10, "max": 5}
        assert "greater than max" in errors_of(document)[0]["msg"]

    def test_duplicate_rule_ids_are_an_error(self) -> None:
        document = minimal()
        document["engagement"][0]["id"] = "big"
        assert "duplicate rule id: big" in errors_of(document)[0]["msg"]

    def test_grade_bands_must_decrease(self) -> None:
        document = minimal(
            grades=[{"grade": "A", "min_fit": 10}, {"grade": "B", "min_fit": 20}, {"grade": "C"}]
        )
        assert "strictly decreasing" in errors_of(document)[0]["msg"]

    def test_last_band_must_catch_everything(self) -> None:
        document = minimal(grades=[{"grade": "A", "min_fit": 40}, {"grade": "B", "min_fit": 20}])
        msgs = [e["msg"] for e in errors_of(document)]
        assert any("must have no min_fit" in m for m in msgs)

    def test_qualification_must_name_known_grades(self) -> None:
        document = minimal(qualification={"mql": [{"grade_at_least": "E"}]})
        (error,) = errors_of(document)
        assert error["loc"] == ["qualification"]
        assert "unknown grade 'E'" in error["msg"]

    def test_a_rubric_nobody_can_qualify_under_is_an_error(self) -> None:
        assert "no way to qualify" in errors_of(minimal(qualification={}))[0]["msg"]

    def test_every_grade_needs_an_sla_tier(self) -> None:
        document = minimal(sla=[{"grade": "A", "tier": "A", "minutes": 5}])
        assert "missing: B, C" in errors_of(document)[0]["msg"]

    def test_sla_for_unknown_grade_is_an_error(self) -> None:
        document = minimal()
        document["sla"].append({"grade": "Z", "tier": "Z", "minutes": 5})
        assert "unknown grades: Z" in errors_of(document)[0]["msg"]

    def test_yaml_syntax_error_is_reported(self) -> None:
        with pytest.raises(RubricInvalid) as caught:
            Rubric.from_yaml("version: [unclosed")
        assert caught.value.errors[0]["type"] == "yaml_invalid"

    def test_a_document_that_is_not_a_mapping_is_an_error(self) -> None:
        assert errors_of(["a", "list"])[0]["type"] == "dict_type"

    def test_json_schema_is_published_with_readable_names(self) -> None:
        schema = Rubric.model_json_schema()
        assert "ProfileRegex" in schema["$defs"]
        assert "ActivityIn" in schema["$defs"]


class TestOperators:
    def rubric_with(self, condition: dict[str, Any]) -> Rubric:
        document = minimal()
        document["fit"][0]["when"] = condition
        return Rubric.from_document(document)

    def fires(self, condition: dict[str, Any], profile: Profile) -> bool:
        result = self.rubric_with(condition).evaluate(profile, [], now=NOW)
        return any(r.rule_id == "big" for r in result.fired_rules)

    @pytest.mark.parametrize(
        ("condition", "profile", "expected"),
        [
            ({"field": "country", "op": "equals", "value": "us"}, Profile(email="a@b.c", country="US"), True),
            ({"field": "country", "op": "equals", "value": "US"}, Profile(email="a@b.c"), False),
            (
                {"field": "company_size", "op": "equals", "value": 500},
                Profile(email="a@b.c", company_size=500),
                True,
            ),
            ({"field": "consent", "op": "equals", "value": True}, Profile(email="a@b.c", consent=True), True),
            (
                {"field": "consent", "op": "equals", "value": True},
                Profile(email="a@b.c", consent=False),
                False,
            ),
            ({"field": "email_domain", "op": "in", "value": ["b.c"]}, Profile(email="a@B.C"), True),
            ({"field": "industry", "op": "in", "value": ["saas", "fintech"]}, Profile(email="a@b.c"), False),
            (
                {"field": "job_title", "op": "contains", "value": "market"},
                Profile(email="a@b.c", job_title="Head of Marketing"),
                True,
            ),
            (
                {"field": "job_title", "op": "contains", "value": ["sales", "revenue"]},
                Profile(email="a@b.c", job_title="CRO, Revenue"),
                True,
            ),
            (
                {"field": "job_title", "op": "regex", "value": r"^vp\b"},
                Profile(email="a@b.c", job_title="VP Sales"),
                True,
            ),
            (
                {"field": "job_title", "op": "regex", "value": r"^vp\b"},
                Profile(email="a@b.c", job_title="SVP Sales"),
                False,
            ),
            (
                {"field": "company_size", "op": "range", "min": 10, "max": 100},
                Profile(email="a@b.c", company_size=100),
                True,
            ),
            (
                {"field": "company_size", "op": "range", "min": 10, "max": 100},
                Profile(email="a@b.c", company_size=101),
                False,
            ),
            (
                {"field": "attributes.revenue", "op": "range", "min": 1_000_000},
                Profile(email="a@b.c", attributes={"revenue": "2500000"}),
                True,
            ),
            (
                {"field": "attributes.revenue", "op": "range", "min": 1},
                Profile(email="a@b.c", attributes={"revenue": "lots"}),
                False,
            ),
            ({"field": "phone", "op": "exists"}, Profile(email="a@b.c", phone="+1 555"), True),
            ({"field": "phone", "op": "exists"}, Profile(email="a@b.c", phone="  "), False),
            ({"field": "phone", "op": "exists", "value": False}, Profile(email="a@b.c"), True),
            (
                {"field": "utm.source", "op": "equals", "value": "google"},
                Profile(email="a@b.c", utm={"source": "Google"}),
                True,
            ),
        ],
    )
    def test_operator(self, condition: dict[str, Any], profile: Profile, expected: bool) -> None:
        assert self.fires(condition, profile) is expected

    def test_all_conditions_of_a_rule_must_hold(self) -> None:
        condition = [
            {"field": "country", "op": "equals", "value": "US"},
            {"field": "job_title", "op": "exists"},
        ]
        assert not self.fires(condition, Profile(email="a@b.c", country="US"))  # type: ignore[arg-type]
        assert self.fires(condition, Profile(email="a@b.c", country="US", job_title="CEO"))  # type: ignore[arg-type]


class TestEngagement:
    rubric = Rubric.from_document(minimal())

    def test_one_half_life_halves_the_points(self) -> None:
        result = self.rubric.evaluate(Profile(email="a@b.c"), [form("f", days_ago=10)], now=NOW)
        (rule,) = result.fired_rules
        assert rule.points == 5
        assert rule.decay_factor == 0.5

    def test_cap_limits_the_rule_total(self) -> None:
        activities = [form("f", days_ago=0) for _ in range(5)]
        result = self.rubric.evaluate(Profile(email="a@b.c"), activities, now=NOW)
        assert result.engagement_score == 25
        assert "capped at 25" in result.fired_rules[0].reason

    def test_max_occurrences_keeps_the_most_recent(self) -> None:
        document = minimal()
        document["engagement"][0].update(max_occurrences=1, cap=None)
        rubric = Rubric.from_document(document)
        activities = [form("old", days_ago=20), form("new", days_ago=0)]
        assert rubric.evaluate(Profile(email="a@b.c"), activities, now=NOW).engagement_score == 10

    def test_activities_after_now_are_ignored(self) -> None:
        result = self.rubric.evaluate(Profile(email="a@b.c"), [form("f", days_ago=-1)], now=NOW)
        assert result.engagement_score == 0
        assert result.fired_rules == []

    def test_conditions_filter_activities(self) -> None:
        document = minimal()
        document["engagement"][0]["when"] = {"field": "utm.campaign", "op": "equals", "value": "spring"}
        rubric = Rubric.from_document(document)
        activities = [form("f", **{"utm.campaign": "spring"}), form("f", **{"utm.campaign": "fall"})]
        assert rubric.evaluate(Profile(email="a@b.c"), activities, now=NOW).engagement_score == 10


class TestQualification:
    rubric = Rubric.from_document(minimal())

    def test_good_grade_with_enough_engagement_qualifies(self) -> None:
        result = self.rubric.evaluate(Profile(email="a@b.c", company_size=5000), [form("f")], now=NOW)
        assert (result.grade, result.is_mql, result.qualification_reason) == ("A", True, "threshold")

    def test_good_grade_without_engagement_does_not(self) -> None:
        result = self.rubric.evaluate(Profile(email="a@b.c", company_size=5000), [], now=NOW)
        assert not result.is_mql

    def test_total_threshold_qualifies_any_grade(self) -> None:
        document = minimal(qualification={"min_total": 20})
        result = Rubric.from_document(document).evaluate(
            Profile(email="a@b.c"), [form("a"), form("b")], now=NOW
        )
        assert (result.grade, result.is_mql) == ("C", True)
        assert "total score 20 >= 20" in result.fired_rules[-1].reason

    def test_a_source_flag_outside_the_agreement_qualifies_nobody(self) -> None:
        # Marketing may mark a form `is_hand_raiser` in ingest; only the signed agreement's
        # hand-raiser forms and events qualify a lead at once.
        document = minimal(qualification={"min_total": 1000})
        result = Rubric.from_document(document).evaluate(
            Profile(email="a@b.c"), [form("x", hand_raiser="true")], now=NOW
        )
        assert (result.is_mql, result.qualification_reason) == (False, None)

    def test_explanation_names_every_fired_rule(self) -> None:
        result = self.rubric.evaluate(
            Profile(email="a@b.c", company_size=5000), [form("f", days_ago=10)], now=NOW
        )
        text = result.explain()
        assert "fit big" in text
        assert "engagement forms" in text
        assert "decayed to 50%" in text
