"""Scoring's app factory: the rubric is loaded once, from the setting, and fails fast."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.scoring.main import create_app
from services.scoring.rubric import RubricInvalid, load_rubric
from services.scoring.settings import ScoringSettings


def settings(rubric_path: Path | None = None) -> ScoringSettings:
    return ScoringSettings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        kafka_bootstrap_servers="127.0.0.1:1",
        jwt_secret="unit-test-secret-" + "y" * 32,
        log_format="text",
        rubric_path=rubric_path,
    )


class TestCreateApp:
    def test_starter_rubric_is_the_default(self) -> None:
        assert create_app(settings()).state.active_rubric.configured.version == "2026.11-starter"

    def test_rubric_path_setting_chooses_the_rubric(self, tmp_path: Path) -> None:
        document = load_rubric().model_dump(mode="json")
        document["version"] = "2026.12-custom"
        path = tmp_path / "custom.yaml"
        path.write_text(yaml.safe_dump(document))
        assert create_app(settings(path)).state.active_rubric.configured.version == "2026.12-custom"

    def test_invalid_rubric_stops_the_service_at_start(self, tmp_path: Path) -> None:
        path = tmp_path / "broken.yaml"
        path.write_text(
            "version: x\nfit: [{id: a, description: a, when: {field: nope, op: exists}, points: 1}]\n"
        )
        with pytest.raises(RubricInvalid):
            create_app(settings(path))

    def test_the_api_is_documented(self) -> None:
        paths = create_app(settings()).openapi()["paths"]
        assert {
            "/v1/leads/{lead_id}/score",
            "/v1/leads/{lead_id}/score/history",
            "/v1/rubric",
            "/v1/rubric/schema",
            "/v1/rubrics/validate",
        } <= set(paths)

    def test_a_rubric_round_trips_through_its_json(self) -> None:
        rubric = load_rubric()
        assert type(rubric).from_document(rubric.model_dump(mode="json")) == rubric
