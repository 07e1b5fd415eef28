"""The rubric language's reference page is generated from the rubric's models and committed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.scoring.conditions import ACTIVITY_FIELDS, PROFILE_FIELDS
from services.scoring.rubric import Rubric
from services.scoring.rubric_reference import EXAMPLE_RUBRIC, rubric_reference

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "rubric.md"


def test_committed_page_is_the_generators_output() -> None:
    assert PAGE.read_text() == rubric_reference(), "docs/rubric.md is stale: regenerate it with `baton docs`"


def test_page_names_every_key_operator_and_field_of_the_json_schema() -> None:
    schema = Rubric.model_json_schema()
    page = rubric_reference()
    operators = {
        definition["properties"]["op"]["const"]
        for definition in schema["$defs"].values()
        if "op" in definition.get("properties", {})
    }
    assert operators == {"equals", "in", "contains", "regex", "range", "exists"}
    for op in operators:
        assert f"| `{op}` |" in page
    for key in schema["properties"]:
        assert f"`{key}`" in page
    for field in PROFILE_FIELDS | ACTIVITY_FIELDS:
        assert f"`{field}`" in page


def test_worked_example_is_a_valid_rubric_shown_whole() -> None:
    rubric = Rubric.from_yaml(EXAMPLE_RUBRIC)
    used: set[Any] = {c.op for rule in [*rubric.fit, *rubric.negative, *rubric.engagement] for c in rule.when}
    assert used == {"regex", "range", "in", "contains"}
    assert EXAMPLE_RUBRIC in rubric_reference()
