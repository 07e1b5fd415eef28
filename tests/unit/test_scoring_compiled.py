"""The compiled evaluator gives exactly the reference evaluator's result, explanation included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.evaluation import Activity, Profile, evaluate
from services.scoring.rubric import Rubric, load_rubric

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
STARTER = load_rubric()

words = st.sampled_from(["VP Sales", "ceo", "Student", "Head of Growth", " SaaS ", "", "gmail.com", "US"])
numbers = st.one_of(st.integers(-10, 10_000), st.floats(-10, 10_000, allow_nan=False))
scalars = st.one_of(words, numbers, st.booleans())
profile_fields = st.sampled_from(
    ["job_title", "company", "company_size", "industry", "country", "email_domain", "consent", "utm.source"]
)
activity_fields = st.sampled_from(["form_id", "page_path", "campaign", "properties.topic"])
activity_types = st.sampled_from(["form_submission", "page_view", "webinar_attended"])


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
                    st.lists(st.sampled_from(["demo-request", "Contact-Sales"]), max_size=2)
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
)
activities = st.builds(
    Activity,
    type=activity_types,
    occurred_at=st.floats(-5, 400).map(lambda days: NOW - timedelta(days=days)),
    properties=st.dictionaries(
        st.sampled_from(["form_id", "page_path", "campaign", "topic", "hand_raiser"]),
        st.sampled_from(["demo-request", "contact-sales", "/pricing", "ebook-x", "true", "", "Q4"]),
        max_size=3,
    ),
)


class TestCompiledEqualsReference:
    @given(rubric=rubrics(), profile=profiles, history=st.lists(activities, max_size=12))
    @settings(max_examples=300, deadline=None)
    def test_any_rubric_scores_as_the_reference_does(
        self, rubric: Rubric, profile: Profile, history: list[Activity]
    ) -> None:
        compiled = rubric.evaluate(profile, history, now=NOW)
        reference = evaluate(rubric, profile, history, now=NOW)
        assert compiled == reference
        assert compiled.explain() == reference.explain()

    @given(profile=profiles, history=st.lists(activities, max_size=12), later=st.floats(0, 90))
    @settings(max_examples=300, deadline=None)
    def test_the_starter_rubric_scores_as_the_reference_does(
        self, profile: Profile, history: list[Activity], later: float
    ) -> None:
        now = NOW + timedelta(days=later)
        compiled = STARTER.evaluate(profile, history, now=now)
        assert compiled == evaluate(STARTER, profile, history, now=now)
        assert [r.model_dump() for r in compiled.fired_rules] == [
            r.model_dump() for r in evaluate(STARTER, profile, history, now=now).fired_rules
        ]
