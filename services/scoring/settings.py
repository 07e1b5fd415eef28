from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import ServiceSettings


class ScoringSettings(ServiceSettings):
    service_name: str = "scoring"
    rubric_path: Path | None = Field(
        default=None,
        description="YAML rubric to score with (BATON_RUBRIC_PATH); the packaged starter rubric if unset.",
    )
