from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class FeedbackSettings(ServiceSettings):
    service_name: str = "feedback"
    mql_monthly_target: int | None = Field(
        default=None,
        ge=1,
        description="MQLs marketing agreed to deliver each month (BATON_MQL_MONTHLY_TARGET); "
        "without it the MQL-delivery report shows counts but no attainment.",
    )
    dashboard_refresh_s: int = Field(
        default=15,
        ge=1,
        le=3600,
        description="How often the dashboard re-reads the reports (BATON_DASHBOARD_REFRESH_S).",
    )
    scoring_url: str | None = Field(
        default=None,
        description="Scoring's base URL (BATON_SCORING_URL), for the dashboard's panel of rubric drafts "
        "awaiting approval; `baton up` sets it. Without it the panel says it is not configured.",
    )
