"""Ingest's settings: protection limits and one secret per webhook provider (unset = disabled)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    service_name: str = "ingest"
    database_pre_ping: bool = Field(
        default=False,
        description="Every form post and batch checks out a connection: a ping before each is a "
        "round trip on the hot path. A dropped connection fails one request instead.",
    )

    max_body_bytes: int = Field(default=1_000_000, description="Larger bodies get 413.")
    form_rate_limit_per_minute: float = Field(
        default=60,
        description="Form posts per client address per minute: per replica with the memory store, "
        "across all replicas with the postgres store.",
    )
    form_rate_limit_burst: int = 20
    form_rate_limit_store: Literal["memory", "postgres"] = Field(
        default="memory",
        description="memory: a token bucket per replica (one replica, e.g. `baton up`). postgres: "
        "fixed windows counted in PostgreSQL, shared by every replica (the chart's choice when "
        "ingest may run more than one). See services/ingest/shared_rate_limit.py.",
    )
    form_rate_limit_window_s: float = Field(
        default=60.0,
        description="postgres store: the fixed window; its limit is burst + per_minute * window/60.",
    )
    form_rate_limit_sync_s: float = Field(
        default=0.25,
        description="postgres store: how often a replica adds its counts to the shared ones and "
        "reads theirs back; a client may exceed the limit by what it posts elsewhere meanwhile.",
    )
    rate_limit_exempt_networks: list[str] = Field(
        default=["127.0.0.0/8", "::1/128"],
        description="Client networks never rate limited. Behind a proxy, run uvicorn with "
        "--proxy-headers so the client address is the browser's, not the proxy's.",
    )
    source_rate_limit_per_minute: float = Field(
        default=600,
        description="Requests per API key (or source token) per minute, unless the key sets its own.",
    )
    source_rate_limit_burst: int = 100
    api_key_cache_ttl_s: float = Field(
        default=5.0,
        description="How long a replica may honour an API key after another replica revoked it.",
    )
    form_cache_ttl_s: float = Field(
        default=5.0, description="How long a replica may use a form's configuration before re-reading it."
    )

    facebook_app_secret: SecretStr | None = None
    facebook_verify_token: SecretStr | None = None
    facebook_access_token: SecretStr | None = Field(default=None, description="Page token for lead reads.")
    facebook_graph_url: str = "https://graph.facebook.com/v21.0"
    google_ads_key: SecretStr | None = None
    linkedin_client_secret: SecretStr | None = None
    linkedin_access_token: SecretStr | None = None
    linkedin_api_url: str = "https://api.linkedin.com/rest"
    linkedin_form_cache_ttl_s: float = Field(
        default=3600, description="How long a replica keeps a LinkedIn lead form's questions."
    )
    hubspot_client_secret: SecretStr | None = None
    typeform_secret: SecretStr | None = None
    webflow_secret: SecretStr | None = None
    unbounce_token: SecretStr | None = Field(
        default=None, description="Unbounce does not sign: its webhook URL carries ?token=<this>."
    )
    platform_fetch_attempts: int = 4
    platform_fetch_backoff_s: float = 0.2
