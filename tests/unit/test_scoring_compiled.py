"""The compiled evaluator gives exactly the reference evaluator's result, explanation included."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.evaluation import Activity, Evaluation, Profile
from services.scoring.predicates import MEMO_SIZE
from services.scoring.reference_evaluation import evaluate
from services.scoring.rubric import Rubric, load_rubric

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
STARTER = load_rubric()

words = st.sampled_from(["VP Sales", "ceo", "Student", "Head of Growth", " SaaS ", "", "gmail.com", "US"])
numbers = st.one_of(st.integers(-10, 10_000), st.floats(-10, 10_000, allow_nan=False))
scalars = st.one_of(words, numbers, st.booleans())
profile_fields = st.sampled_from(
    [
        "job_title",
        "company",
        "company_size",
        "industry",
        "country",
        "email_domain",
        "consent",
        "utm.source",
        "attributes.tier",
    ]
)
activity_fields = st.sampled_from(["form_id", "page_path", "campaign", "properties.topic"])
activity_types = st.sampled_from(["form_submission", "page_view", "webinar_attended"])
# Histories also hold activities of a type no rule names.
history_types = st.sampled_from(["form_submission", "page_view", "webinar_attended", "email_click"])


def conditions(fields: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.fixed_dictionaries({"field": fields, "op": st.just("equals"), "value": scalars}),
        st.fixed_dictionaries({"field": fields, "op": st.just("in"), "value": st.lists(scalars, min_size=1)}),
        st.fixed_dictionaries(
            {
                "field": fields,
                "op": st.just("contains"),
                "value": words.filter(bool) | st.lists(words, min_size=1),
            }
        ),
        st.fixed_dictionaries(
            {"field": fields, "op": st.just("regex"), "value": st.sampled_from(["^v", "s$", "a|e"])}
        ),
        st.fixed_dictionaries({"field": fields, "op": st.just("range"), "min": st.integers(0, 500)}),
        st.fixed_dictionaries({"field": fields, "op": st.just("exists"), "value": st.booleans()}),
    )


points = st.floats(min_value=0.01, max_value=60, allow_nan=False)


@st.composite
def rubrics(draw: st.DrawFn) -> Rubric:
    fit = [
        {
            "id": f"fit-{i}",
            "description": "fit",
            "when": draw(st.lists(conditions(profile_fields), min_size=1, max_size=2)),
            "points": draw(points),
        }
        for i in range(draw(st.integers(0, 4)))
    ]
    negative = [
        {
            "id": f"neg-{i}",
            "description": "negative",
            "when": draw(conditions(profile_fields)),
            "points": -draw(points),
            "disqualify": draw(st.booleans()),
        }
        for i in range(draw(st.integers(0, 2)))
    ]
    engagement = [
        {
            "id": f"eng-{i}",
            "description": "engagement",
            "activity": draw(activity_types),
            "when": draw(st.lists(conditions(activity_fields), max_size=2)),
            "points": draw(points),
            "cap": draw(st.none() | st.floats(0.01, 100)),
            "max_occurrences": draw(st.none() | st.integers(1, 4)),
            "half_life_days": draw(st.none() | st.floats(0.1, 90)),
        }
        for i in range(draw(st.integers(0, 4)))
    ]
    return Rubric.from_document(
        {
            "version": "prop",
            "name": "prop",
            "stages": [{"id": "mql", "name": "MQL", "definition": "d"}],
            "fit": fit,
            "negative": negative,
            "engagement": engagement,
            "grades": [{"grade": "A", "min_fit": 50}, {"grade": "B", "min_fit": 20}, {"grade": "C"}],
            "qualification": {
                "mql": [{"grade_at_least": "B", "min_engagement": draw(st.floats(0, 50))}],
                "min_total": draw(st.none() | st.floats(0, 150)),
                "hand_raiser_forms": draw(
                    st.lists(st.sampled_from(["demo-request", "Contact-Sales", ""]), max_size=2)
                ),
            },
            "sla": [{"grade": g, "tier": g, "minutes": 5} for g in "ABC"],
        }
    )


profiles = st.builds(
    Profile,
    email=st.sampled_from(["a@acme.io", "b@GMAIL.com", "c@hubspot.com", "plain"]),
    job_title=st.none() | words,
    company=st.none() | words,
    company_size=st.none() | st.integers(0, 10_000),
    country=st.none() | words,
    industry=st.none() | words,
    consent=st.none() | st.booleans(),
    utm=st.dictionaries(st.just("source"), words),
    attributes=st.dictionaries(st.just("tier"), words),
)
properties = st.dictionaries(
    st.sampled_from(["form_id", "page_path", "campaign", "topic", "hand_raiser"]),
    st.sampled_from(["demo-request", "Contact-Sales", "/pricing", "ebook-x", "true", "", "Q4"]),
    max_size=3,
)
activities = st.builds(
    Activity,
    type=history_types,
    occurred_at=st.floats(-5, 400).map(lambda days: NOW - timedelta(days=days)),
    properties=properties,
)
# Few distinct moments, so activities often share one and the tie-break decides their order.
tied_activities = st.builds(
    Activity,
    type=history_types,
    occurred_at=st.sampled_from([-1, 0, 0.5, 3, 40]).map(lambda days: NOW - timedelta(days=days)),
    properties=properties,
)


def assert_same(compiled: Evaluation, reference: Evaluation) -> None:
    assert type(compiled) is Evaluation
    assert compiled == reference
    assert compiled.explain() == reference.explain()
    assert [(r.model_dump(), r.model_fields_set) for r in compiled.fired_rules] == [
        (r.model_dump(), r.model_fields_set) for r in reference.fired_rules
    ]


class TestCompiledEqualsReference:
    @given(rubric=rubrics(), profile=profiles, history=st.lists(activities, max_size=12))
    @settings(max_examples=300, deadline=None)
    def test_any_rubric_scores_as_the_reference_does(
        self, rubric: Rubric, profile: Profile, history: list[Activity]
    ) -> None:
        assert_same(rubric.evaluate(profile, history, now=NOW), evaluate(rubric, profile, history, now=NOW))

    @given(rubric=rubrics(), profile=profiles, history=st.lists(tied_activities, max_size=12))
    @settings(max_examples=300, deadline=None)
    def test_activities_sharing_a_moment_are_ordered_as_the_reference_orders_them(
        self, rubric: Rubric, profile: Profile, history: list[Activity]
    ) -> None:
        assert_same(rubric.evaluate(profile, history, now=NOW), evaluate(rubric, profile, history, now=NOW))

    @given(profile=profiles, history=st.lists(activities, max_size=12), later=st.floats(0, 90))
    @settings(max_examples=300, deadline=None)
    def test_the_starter_rubric_scores_as_the_reference_does(
        self, profile: Profile, history: list[Activity], later: float
    ) -> None:
        now = NOW + timedelta(days=later)
        assert_same(STARTER.evaluate(profile, history, now=now), evaluate(STARTER, profile, history, now=now))


def rubric_of(**parts: Any) -> Rubric:
    document: dict[str, Any] = {
        "version": "case",
        "name": "case",
        "stages": [{"id": "mql", "name": "MQL", "definition": "d"}],
        "grades": [{"grade": "A", "min_fit": 10}, {"grade": "B"}],
        "qualification": {"min_total": 1000},
        "sla": [{"grade": "A", "tier": "A", "minutes": 5}, {"grade": "B", "tier": "B", "minutes": 60}],
    }
    return Rubric.from_document(document | parts)


def at(days: float, kind: str = "form_submission", **properties: str) -> Activity:
    return Activity(type=kind, occurred_at=NOW - timedelta(days=days), properties=properties)


class TestCompiledCases:
    """Paths the compiled evaluator takes that random histories rarely reach."""

    def test_the_result_is_a_frozen_evaluation(self) -> None:
        result = STARTER.evaluate(Profile(email="a@acme.io"), [at(1, form_id="demo-request")], now=NOW)
        assert type(result) is Evaluation
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.score = 1.0  # type: ignore[misc]

    def test_hand_raiser_forms_qualify_without_any_form_rule(self) -> None:
        rubric = rubric_of(qualification={"hand_raiser_forms": ["Demo-Request"]})
        history = [
            at(3, "page_view", page_path="/"),
            at(2, form_id="demo-request"),
            at(1, form_id="DEMO-request"),
        ]
        result = rubric.evaluate(Profile(email="a@acme.io"), history, now=NOW)
        assert result.qualification_reason == "hand_raiser"
        assert_same(result, evaluate(rubric, Profile(email="a@acme.io"), history, now=NOW))

    @pytest.mark.parametrize(
        "history",
        [
            [at(2, "page_view", hand_raiser="true"), at(1, form_id="demo-request")],
            [at(2, form_id="demo-request", hand_raiser="true")],
            [at(2, form_id="newsletter", hand_raiser="true"), at(1, form_id="demo-request")],
            [at(2, "email_click", hand_raiser="true"), at(2, form_id="demo-request")],
            [at(1, form_id="demo-request"), at(1, form_id="contact-sales")],
        ],
    )
    def test_the_earliest_hand_raiser_gives_the_reason(self, history: list[Activity]) -> None:
        profile = Profile(email="a@acme.io")
        assert_same(STARTER.evaluate(profile, history, now=NOW), evaluate(STARTER, profile, history, now=NOW))

    def test_a_missing_form_id_is_read_as_empty_text(self) -> None:
        rubric = rubric_of(qualification={"hand_raiser_forms": [""]})
        history = [at(1, "form_submission")]
        result = rubric.evaluate(Profile(email="a@acme.io"), history, now=NOW)
        assert result.qualification_reason == "hand_raiser"
        assert_same(result, evaluate(rubric, Profile(email="a@acme.io"), history, now=NOW))

    def test_more_distinct_values_than_the_memo_holds_still_score_as_the_reference(self) -> None:
        titles = [f"VP Sales {i}" for i in range(MEMO_SIZE + 50)]
        forms = [f"ebook-{i}" for i in range(MEMO_SIZE + 50)]
        for title, form in zip(titles + titles[:10], forms + forms[:10], strict=True):
            profile = Profile(email=f"a@{title[-3:]}.io", job_title=title, company_size=len(title))
            history = [at(1, form_id=form), at(2, "page_view", page_path=f"/pricing/{form}")]
            assert_same(
                STARTER.evaluate(profile, history, now=NOW), evaluate(STARTER, profile, history, now=NOW)
            )

    def test_a_rule_on_two_properties_needs_both(self) -> None:
        rubric = rubric_of(
            engagement=[
                {
                    "id": "pricing-from-q4",
                    "description": "Pricing from the Q4 campaign",
                    "activity": "page_view",
                    "when": [
                        {"field": "page_path", "op": "contains", "value": "/pricing"},
                        {"field": "properties.campaign", "op": "equals", "value": "q4"},
                        {"field": "page_path", "op": "regex", "value": "^/"},
                    ],
                    "points": 5,
                    "max_occurrences": 2,
                    "half_life_days": 7,
                }
            ]
        )
        history = [
            at(d, "page_view", page_path=path, campaign=campaign)
            for d, path, campaign in [
                (1, "/pricing", "Q4"),
                (2, "/pricing", "q3"),
                (3, "/docs", "Q4"),
                (4, "/pricing", "q4"),
                (5, "x/pricing", "Q4"),
                (6, "/pricing", "Q4"),
            ]
        ]
        result = rubric.evaluate(Profile(email="a@acme.io"), history, now=NOW)
        assert [r.reason for r in result.fired_rules] == [
            "Pricing from the Q4 campaign (2x page_view, 1 more beyond the limit of 2)"
        ]
        assert_same(result, evaluate(rubric, Profile(email="a@acme.io"), history, now=NOW))
