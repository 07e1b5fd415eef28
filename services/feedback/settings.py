from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from services.feedback.money import DEFAULT_CURRENCY, Fx
from shared.settings import ServiceSettings


class FeedbackSettings(ServiceSettings):
    service_name: str = "feedback"
    mql_monthly_target: int | None = Field(
        default=None,
        ge=1,
        description="MQLs marketing agreed to deliver each month (BATON_MQL_MONTHLY_TARGET); "
        "without it the MQL-delivery report shows counts but no attainment.",
    )
    reporting_currency: str = Field(
        default=DEFAULT_CURRENCY,
        pattern=r"^[A-Z]{3}$",
        description="The one currency revenue reports are in (BATON_REPORTING_CURRENCY, ISO 4217).",
    )
    fx_rates: dict[str, Decimal] = Field(
        default_factory=dict,
        description="Units of the reporting currency one unit of each other currency is worth "
        '(BATON_FX_RATES, JSON such as {"USD": "0.92"}); reports name the rates they used and refuse '
        "an amount in a currency without one.",
    )

    def fx(self) -> Fx:
        return Fx(self.reporting_currency, self.fx_rates)

    dashboard_refresh_s: int = Field(
        default=15,
        ge=1,
        le=3600,
        description="How often the dashboard re-reads the reports (BATON_DASHBOARD_REFRESH_S).",
    )
    scoring_url: str | None = Field(
        default=None,
        description="Scoring's base URL (BATON_SCORING_URL), for the dashboard's panel of rubric drafts "
        "awaiting approval, read server-side; `baton up` sets it. Without it the panel says it is not configured.",
    )
    # The look-up's links are opened by the reader's browser, so they need the addresses people
    # reach, which on a cluster are not the in-cluster ones feedback itself calls (scoring_url).
    public_ingest_url: str | None = Field(
        default=None,
        description="Where readers reach ingest (BATON_PUBLIC_INGEST_URL), for the dashboard's lead "
        "look-up links (search and lead view); `baton up` sets it. Unset: the look-up names the path only.",
    )
    public_scoring_url: str | None = Field(
        default=None,
        description="Where readers reach scoring (BATON_PUBLIC_SCORING_URL), for the look-up's score "
        "link; `baton up` sets it. Feedback itself reads scoring at BATON_SCORING_URL.",
    )
    public_routing_url: str | None = Field(
        default=None,
        description="Where readers reach routing (BATON_PUBLIC_ROUTING_URL), for the look-up's "
        "assignment and brief links; `baton up` sets it.",
    )
    tuning_auto_activate: bool = Field(
        default=False,
        description="Policy flag (BATON_TUNING_AUTO_ACTIVATE): a proposal within the limits below is marked "
        "`auto` and may be activated without waiting for both teams; off, every proposal waits for "
        "marketing's and sales' approval in scoring.",
    )
    tuning_auto_max_points_change: int = Field(
        default=5,
        ge=0,
        description="Largest change of one rule's points an auto-activated proposal may make.",
    )
    tuning_auto_max_bar_change: int = Field(
        default=5,
        ge=0,
        description="Largest move of the qualification bar an auto-activated proposal may make.",
    )
    tuning_auto_max_volume_change: float = Field(
        default=0.1,
        ge=0,
        description="Largest relative change of the backtest's MQL volume an auto-activated proposal may make.",
    )
    drift_min_leads: int = Field(
        default=50,
        ge=1,
        description="Leads a measured rate must start from before it may count as drift from the signed "
        "plan (BATON_DRIFT_MIN_LEADS): fewer are no evidence.",
    )
    drift_check_interval_s: float = Field(
        default=3600,
        ge=0,
        description="How often feedback checks the measured rates against the intervals the agreement in "
        "force was planned with (BATON_DRIFT_CHECK_INTERVAL_S); 0 turns the check off.",
    )
