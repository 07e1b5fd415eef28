from __future__ import annotations

from shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    service_name: str = "ingest"
