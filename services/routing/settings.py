from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import ServiceSettings


class RoutingSettings(ServiceSettings):
    service_name: str = "routing"
    routing_rules_path: Path | None = Field(
        default=None,
        description="YAML routing rules to route with until a rule set is activated through the API "
        "(BATON_ROUTING_RULES_PATH); the packaged default (one pool of every rep) if unset.",
    )
    worker_interval_s: float = Field(
        default=1.0,
        description="How often each replica fires due SLA timers and retries the fallback queue.",
    )
    worker_batch_size: int = Field(default=200, ge=1, description="SLA timers claimed per transaction.")
    sla_max_reassignments: int = Field(
        default=1,
        ge=0,
        description="How many times a breached lead is handed to the next eligible rep (0: never).",
    )
