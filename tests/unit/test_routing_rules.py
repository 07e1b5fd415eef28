"""The routing rule language: validation with paths, first match wins, derived facts, skills."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.routing.eligibility import RepAvailability, local_day, skip_reason
from services.routing.rules import RuleSet, RuleSetInvalid, load_rule_set, missing_skills, rep_references

MONDAY = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def rule_set(rules: list[dict[str, Any]], **extra: Any) -> RuleSet:
    document = {
        "version": "test-1",
        "name": "Test",
        "pools": [
            {"id": "everyone", "members": "all"},
            {"id": "emea", "members": [{"rep": "ada@example.com"}]},
        ],
        "rules": [*rules, {"id": "rest", "action": {"type": "pool", "pool": "everyone"}}],
        **extra,
    }
    return RuleSet.from_document(document)


def errors_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(RuleSetInvalid) as caught:
        RuleSet.from_document(document)
    return caught.value.errors


class TestValidation:
    def test_packaged_default_is_one_pool_of_every_rep(self) -> None:
        default = load_rule_set()
        assert [(r.id, r.when) for r in default.rules] == [("everyone", [])]
        assert default.pool("default").members == "all"

    def test_unknown_field_is_reported_with_its_path(self) -> None:
        errors = errors_of(
            {
                "version": "v",
                "name": "n",
                "pools": [{"id": "p", "members": "all"}],
                "rules": [
                    {
                        "id": "a",
                        "when": [{"field": "colour", "op": "equals", "value": "red"}],
                        "action": {"type": "rep", "rep": "x"},
                    },
                    {"id": "b", "action": {"type": "pool", "pool": "p"}},
                ],
            }
        )
        assert errors[0]["loc"][:4] == ["rules", 0, "when", 0]
        assert "unknown lead field 'colour'" in errors[0]["msg"]

    def test_unknown_pool_duplicate_ids_and_missing_catch_all_are_each_reported(self) -> None:
        errors = errors_of(
            {
                "version": "v",
                "name": "n",
                "pools": [{"id": "p", "members": "all"}],
                "rules": [
                    {"id": "a", "action": {"type": "pool", "pool": "nowhere"}},
                    {
                        "id": "a",
                        "when": [{"field": "grade", "op": "equals", "value": "A"}],
                        "action": {"type": "pool", "pool": "p"},
                    },
                ],
            }
        )
        assert {tuple(e["loc"]) for e in errors} == {
            ("rules", 1, "id"),
            ("rules", 0, "action", "pool"),
            ("rules", 1),
        }

    def test_named_rep_as_last_rule_is_not_a_catch_all(self) -> None:
        errors = errors_of(
            {
                "version": "v",
                "name": "n",
                "pools": [{"id": "p", "members": "all"}],
                "rules": [{"id": "a", "action": {"type": "rep", "rep": "x"}}],
            }
        )
        assert "catch-all" in errors[0]["msg"]

    def test_range_needs_a_bound_and_pool_lists_a_rep_once(self) -> None:
        errors = errors_of(
            {
                "version": "v",
                "name": "n",
                "pools": [{"id": "p", "members": [{"rep": "a@x.io"}, {"rep": "A@x.io"}]}],
                "rules": [
                    {
                        "id": "a",
                        "when": [{"field": "company_size", "op": "range"}],
                        "action": {"type": "pool", "pool": "p"},
                    },
                    {"id": "b", "action": {"type": "pool", "pool": "p"}},
                ],
            }
        )
        assert {e["loc"][0] for e in errors} == {"pools", "rules"}

    def test_yaml_that_does_not_parse_is_one_error(self) -> None:
        with pytest.raises(RuleSetInvalid) as caught:
            RuleSet.from_yaml("rules: [")
        assert caught.value.errors[0]["type"] == "yaml_invalid"

    def test_rep_references_carry_their_paths(self) -> None:
        rules = rule_set([{"id": "vip", "action": {"type": "rep", "rep": "grace@example.com"}}])
        assert rep_references(rules) == [
            (["pools", 1, "members", 0, "rep"], "ada@example.com"),
            (["rules", 0, "action", "rep"], "grace@example.com"),
        ]


class TestMatching:
    def test_first_matching_rule_wins(self) -> None:
        rules = rule_set(
            [
                {
                    "id": "german",
                    "when": [{"field": "language", "op": "equals", "value": "de"}],
                    "action": {"type": "pool", "pool": "emea"},
                },
                {
                    "id": "europe",
                    "when": [{"field": "region", "op": "equals", "value": "emea"}],
                    "action": {"type": "pool", "pool": "everyone"},
                },
            ]
        )
        german_in_france = rules.facts({"country": "FR", "language": "DE"})
        assert [r.id for r in rules.matching(german_in_france)] == ["german", "europe", "rest"]
        assert next(rules.matching(rules.facts({"country": "US"}))).id == "rest"

    def test_region_and_segment_are_derived(self) -> None:
        rules = rule_set([])
        facts = rules.facts({"country": "jp", "company_size": 1500}, grade="A")
        assert (facts["region"], facts["segment"], facts["grade"]) == ("apac", "enterprise", "A")
        assert rules.facts({"company_size": 12})["segment"] == "smb"
        assert rules.facts({})["segment"] is None

    def test_operators(self) -> None:
        rules = rule_set(
            [
                {
                    "id": "mid-software",
                    "when": [
                        {"field": "industry", "op": "in", "value": ["Software", "SaaS"]},
                        {"field": "company_size", "op": "range", "min": 100, "max": 999},
                        {"field": "account_owner_id", "op": "exists", "value": False},
                    ],
                    "action": {"type": "pool", "pool": "emea"},
                }
            ]
        )
        rule = rules.rules[0]
        assert rule.matches(rules.facts({"industry": "saas", "company_size": 100}))
        assert not rule.matches(rules.facts({"industry": "saas", "company_size": 1000}))
        assert not rule.matches(
            rules.facts({"industry": "saas", "company_size": 500, "account_owner_id": str(uuid.uuid4())})
        )

    @given(
        facts=st.fixed_dictionaries(
            {"grade": st.sampled_from(["A", "B", "C", None]), "language": st.sampled_from(["de", "fr", None])}
        ),
        picks=st.lists(
            st.tuples(
                st.sampled_from(["grade", "language"]), st.sampled_from(["A", "B", "de", "fr"]), st.booleans()
            ),
            max_size=6,
        ),
    )
    def test_the_deciding_rule_is_the_first_whose_conditions_all_hold(
        self, facts: dict[str, str | None], picks: list[tuple[str, str, bool]]
    ) -> None:
        rules = rule_set(
            [
                {
                    "id": f"r{i}",
                    "when": [{"field": field, "op": "equals", "value": value}]
                    + ([{"field": field, "op": "exists"}] if also_exists else []),
                    "action": {"type": "pool", "pool": "emea"},
                }
                for i, (field, value, also_exists) in enumerate(picks)
            ]
        )
        expected = next(
            (
                f"r{i}"
                for i, (field, value, _) in enumerate(picks)
                if facts[field] is not None and facts[field] == value
            ),
            "rest",
        )
        assert next(rules.matching(rules.facts(facts))).id == expected


class TestSkills:
    @given(
        language=st.sampled_from(["de", "FR", "en", None]),
        product=st.sampled_from(["analytics", "Platform", None]),
        held=st.sets(st.sampled_from(["de", "fr", "en", "analytics", "platform"])),
    )
    def test_a_rep_is_skipped_exactly_when_a_needed_skill_is_missing(
        self, language: str | None, product: str | None, held: set[str]
    ) -> None:
        rules = rule_set([], common_skills=["en"])
        required = rules.required_skills(rules.facts({"language": language, "product_interest": product}))
        needed = {v.casefold() for v in (language, product) if v is not None} - {"en"}
        assert required == needed
        rep = RepAvailability(uuid.UUID(int=1), active=True, skills=frozenset(held))
        reason = skip_reason(rep, at=MONDAY, required_skills=required)
        assert (reason == "missing_skill") == bool(missing_skills(required, sorted(held)))
        assert (reason is None) == needed.issubset(held)


class TestDailyCap:
    def test_rep_at_their_daily_cap_is_skipped(self) -> None:
        rep = RepAvailability(uuid.UUID(int=1), active=True, max_per_day=2, assigned_today=2)
        assert skip_reason(rep, at=MONDAY) == "daily_cap"
        assert (
            skip_reason(
                RepAvailability(uuid.UUID(int=1), active=True, max_per_day=2, assigned_today=1), at=MONDAY
            )
            is None
        )

    def test_the_day_is_the_reps_own(self) -> None:
        late_monday_utc = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
        assert local_day("Asia/Tokyo", late_monday_utc).isoformat() == "2026-11-24"
        assert local_day("America/Los_Angeles", late_monday_utc).isoformat() == "2026-11-23"
