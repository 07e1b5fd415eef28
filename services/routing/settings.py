from __future__ import annotations

from shared.settings import ServiceSettings


class RoutingSettings(ServiceSettings):
    service_name: str = "routing"
