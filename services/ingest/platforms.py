"""Clients for the platform APIs a webhook only points at (Meta's Graph API, LinkedIn's REST API).

One short-lived httpx client per delivery: webhooks are rare next to form posts, and nothing then
needs starting or stopping with the app.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from services.ingest.errors import PlatformUnavailable

log = logging.getLogger(__name__)

RETRIABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
FACEBOOK_LEAD_FIELDS = (
    "id,created_time,field_data,ad_id,ad_name,adset_id,adset_name,campaign_id,campaign_name,"
    "form_id,is_organic,platform"
)


class LeadFetcher(Protocol):
    async def fetch(self, lead_id: str) -> Any: ...


class JsonApi:
    """GET JSON with retries: transport errors, 429 and 5xx are retried with exponential backoff."""

    def __init__(
        self,
        base_url: str,
        *,
        platform: str,
        attempts: int = 4,
        backoff_s: float = 0.2,
        timeout_s: float = 5.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.platform = platform
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.headers = headers or {}

    async def get(self, path: str, params: dict[str, str]) -> Any:
        last = "no attempt"
        async with httpx.AsyncClient(timeout=self.timeout_s, headers=self.headers) as client:
            for attempt in range(self.attempts):
                if attempt:
                    await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
                try:
                    response = await client.get(f"{self.base_url}/{path}", params=params)
                except httpx.TransportError as exc:
                    last = repr(exc)
                    continue
                if response.status_code in RETRIABLE_STATUS:
                    last = f"HTTP {response.status_code}"
                    continue
                if response.status_code != 200:
                    break_reason = f"HTTP {response.status_code}: {response.text[:200]}"
                    raise PlatformUnavailable(f"{self.platform} refused the lead fetch: {break_reason}")
                try:
                    return response.json()
                except ValueError as exc:
                    raise PlatformUnavailable(f"{self.platform} answered with invalid JSON") from exc
        log.warning("ingest.platform_fetch_failed", extra={"platform": self.platform, "error": last})
        raise PlatformUnavailable(f"{self.platform} did not answer after {self.attempts} attempts ({last})")


class GraphLeadFetcher:
    """Meta's Graph API: `GET /<leadgen_id>?fields=...&access_token=...`."""

    def __init__(self, api: JsonApi, access_token: str) -> None:
        self.api = api
        self.access_token = access_token

    async def fetch(self, lead_id: str) -> Any:
        return await self.api.get(
            quote(lead_id, safe=""), {"access_token": self.access_token, "fields": FACEBOOK_LEAD_FIELDS}
        )


class LinkedInFetcher(LeadFetcher, Protocol):
    async def form(self, form_number: str) -> Any: ...


class LinkedInLeadFetcher:
    """LinkedIn's REST API: `GET /leadFormResponses/<url-encoded response URN>` for a lead,
    `GET /leadForms/<form id>` for the form whose questions its answers refer to."""

    def __init__(self, api: JsonApi) -> None:
        self.api = api

    async def fetch(self, lead_id: str) -> Any:
        return await self.api.get(f"leadFormResponses/{quote(lead_id, safe='')}", {})

    async def form(self, form_number: str) -> Any:
        return await self.api.get(f"leadForms/{quote(form_number, safe='')}", {})
