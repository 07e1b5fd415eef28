from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import ServiceSettings


class ScoringSettings(ServiceSettings):
    service_name: str = "scoring"
    rubric_path: Path | None = Field(
        default=None,
        description="YAML rubric to score with until one is activated through the API "
        "(BATON_RUBRIC_PATH); the packaged starter rubric if unset.",
    )
    rescore_interval_s: float = Field(
        default=1.0, description="How often the re-score worker looks for work."
    )
    rescore_batch_size: int = Field(default=200, description="Leads re-scored per transaction.")
    lead_cache_max_activities: int = Field(
        default=200_000,
        ge=0,
        description="Activities the consumer keeps in memory across batches, so a lead's next event "
        "reads only the rows added since (least recently used leads go first); 0 turns the cache off.",
    )
    decay_pass_interval_s: float = Field(
        default=6 * 3600,
        description="How often every lead is re-scored so stored scores follow decay; 0 disables.",
    )
    dashboard_url: str | None = Field(
        default=None,
        description="Feedback's base URL (BATON_DASHBOARD_URL), for the signing page's evidence (the "
        "measured planning rates and both scorecards, read with the signer's own token) and its link "
        "to the dashboard; `baton up` sets it. Without it the page shows no evidence.",
    )
    feedback_url: str | None = Field(
        default=None,
        description="Where scoring itself reads feedback's evidence (BATON_FEEDBACK_URL), when the pod "
        "reaches feedback at another address than the browser does (the Helm chart: feedback's Service); "
        "unset: BATON_DASHBOARD_URL.",
    )
