"""Routing's settings for outbound webhooks and the CRM owner write-back (BATON_WEBHOOK_*,
BATON_CRM_*), on the shared service settings; `RoutingSettings` builds on this class."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from shared.settings import PLACEHOLDER_SECRETS, ServiceSettings


class OutboundSettings(ServiceSettings):
    webhook_interval_s: float = Field(
        default=0.5, gt=0, description="How often due webhook deliveries are sent."
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="Timeout of one webhook delivery attempt."
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, description="Attempts of one delivery before it is `dead` (it can still be resent)."
    )
    webhook_backoff_s: float = Field(
        default=5.0,
        gt=0,
        description="First retry delay of a delivery; it doubles per attempt, up to 6 hours.",
    )
    crm_provider: Literal["hubspot", "salesforce"] | None = Field(
        default=None,
        description="The CRM that assigned leads' owners are written into (unset: none). Each rep's "
        "user id in it is set with PUT /v1/crm/reps/{rep_id}.",
    )
    crm_base_url: str | None = Field(
        default=None,
        description="The CRM's API root: https://api.hubapi.com, or the org's "
        "https://<domain>.my.salesforce.com.",
    )
    crm_token: SecretStr | None = Field(
        default=None, description="A HubSpot private-app token, or a Salesforce OAuth access token."
    )
    crm_salesforce_api_version: str = Field(
        default="v62.0", pattern=r"^v\d+\.\d$", description="The Salesforce REST API version, e.g. v62.0."
    )
    crm_interval_s: float = Field(default=1.0, gt=0, description="How often due CRM syncs are attempted.")
    crm_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one CRM call.")
    crm_max_attempts: int = Field(
        default=10, ge=1, description="Attempts of one owner sync before it is `dead` (visible in the API)."
    )
    crm_backoff_s: float = Field(
        default=5.0, gt=0, description="First retry delay of a failed sync; doubles per attempt."
    )

    @model_validator(mode="after")
    def _crm_fully_configured(self) -> Self:
        if self.crm_provider is None:
            return self
        if not self.crm_base_url or self.crm_token is None:
            raise ValueError("BATON_CRM_PROVIDER needs BATON_CRM_BASE_URL and BATON_CRM_TOKEN")
        if self.crm_token.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("BATON_CRM_TOKEN is a placeholder; set the CRM's real token")
        return self
