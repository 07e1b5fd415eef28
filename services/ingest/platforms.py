"""Clients for the platform APIs a webhook only points at (Meta's Graph API, LinkedIn's REST API).

One short-lived httpx client per delivery: webhooks are rare next to form posts, and nothing then
needs starting or stopping with the app.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, unquote

import httpx
from prometheus_client import Counter

from services.ingest.errors import PlatformUnavailable

log = logging.getLogger(__name__)

FACEBOOK_LEAD_FIELDS = (
    "id,created_time,field_data,ad_id,ad_name,adset_id,adset_name,campaign_id,campaign_name,"
    "form_id,is_organic,platform,custom_disclaimer_responses"
)
# Graph API's "Handling Errors" guide: 1 and 2 are downtime, 4, 17, 32, 341 and 613 throttling,
# 368 a temporary block; "wait and retry". The 80000-80014 codes are business use case limits.
GRAPH_TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 368, 613, *range(80000, 80015)})
PLATFORM_FETCH_FAILURES = Counter(
    "baton_ingest_platform_fetch_failures_total",
    "Platform API lead fetches that failed, by platform and kind (permanent: answered, not retried).",
    ["platform", "kind"],
)


@dataclass(frozen=True)
class Permanent:
    """A failure no retry mends (the lead is gone or hidden from this token, the token is dead):
    the delivery is answered 2xx, with the reason, so the platform stops retrying it."""

    reason: str


@dataclass(frozen=True)
class Transient:
    """A failure that passes (downtime, throttling, a timeout): after our own retries it is
    answered 503, so the platform delivers again later."""

    reason: str


class PlatformLeadUnavailable(Exception):
    """The platform answered, for good, that this lead cannot be fetched."""

    def __init__(self, platform: str, lead_id: str, failure: Permanent) -> None:
        super().__init__(f"{platform} lead {lead_id}: {failure.reason}")
        self.platform = platform
        self.lead_id = lead_id
        self.failure = failure


def classify_http_error(status: int | None, body: object) -> Permanent | Transient:
    """Any JSON API: no answer, 408, 429 and 5xx are transient; another 4xx is permanent."""
    if status is None or status in (408, 429) or status >= 500:
        return Transient(f"HTTP {status}" if status else "no answer")
    return Permanent(f"HTTP {status}: {json.dumps(body, default=str)[:300]}")


def classify_graph_error(status: int | None, body: object) -> Permanent | Transient:
    """Meta's Graph API, by its documented error body (`{"error": {"message", "type", "code",
    "error_subcode", "is_transient", "fbtrace_id"}}`): `is_transient`, a throttling or downtime
    code, no answer, 429 or 5xx are transient; anything else (code 100: no such object or no
    permission; 190: the token expired; another 4xx) is permanent."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    described = ", ".join(
        f"{key} {error[key]}" for key in ("type", "code", "error_subcode", "fbtrace_id") if key in error
    )
    reason = f"HTTP {status}" + (f" ({described})" if described else "")
    if error.get("message"):
        reason += f": {str(error['message'])[:200]}"
    if error.get("is_transient") is True or code in GRAPH_TRANSIENT_CODES:
        return Transient(reason)
    if error.get("is_transient") is False and status is not None and status < 500:
        return Permanent(reason)
    general = classify_http_error(status, body)
    return Permanent(reason) if isinstance(general, Permanent) else Transient(reason)


RESPONSE_URN_PREFIX = "urn:li:leadGenFormResponse:"
Classifier = Callable[[int | None, object], Permanent | Transient]
CLASSIFIERS: dict[str, Classifier] = {"facebook": classify_graph_error}


class LeadFetcher(Protocol):
    async def fetch(self, lead_id: str) -> Any: ...


class JsonApi:
    """GET JSON with retries: a transient failure (as `classify` tells) is retried with exponential
    backoff, then is `PlatformUnavailable` (503); a permanent one raises `PlatformLeadUnavailable`
    at once."""

    def __init__(
        self,
        base_url: str,
        *,
        platform: str,
        attempts: int = 4,
        backoff_s: float = 0.2,
        timeout_s: float = 5.0,
        headers: dict[str, str] | None = None,
        classify: Classifier | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.platform = platform
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.headers = headers or {}
        self.classify = classify or CLASSIFIERS.get(platform, classify_http_error)

    async def get(self, path: str, params: dict[str, str]) -> Any:
        last: Permanent | Transient = Transient("no attempt")
        async with httpx.AsyncClient(timeout=self.timeout_s, headers=self.headers) as client:
            for attempt in range(self.attempts):
                if attempt:
                    await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
                try:
                    response = await client.get(f"{self.base_url}/{path}", params=params)
                except httpx.TransportError as exc:
                    last = Transient(f"no answer: {exc!r}")
                    continue
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError:
                        last = Transient("the answer was not JSON")
                        continue
                last = self.classify(response.status_code, _json_or_text(response))
                if isinstance(last, Permanent):
                    PLATFORM_FETCH_FAILURES.labels(self.platform, "permanent").inc()
                    raise PlatformLeadUnavailable(self.platform, unquote(path), last)
        PLATFORM_FETCH_FAILURES.labels(self.platform, "transient").inc()
        log.warning("ingest.platform_fetch_failed", extra={"platform": self.platform, "error": last.reason})
        raise PlatformUnavailable(
            f"{self.platform} did not answer after {self.attempts} attempts ({last.reason})"
        )


def _json_or_text(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text[:300]


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
        # The notification names the response by URN; the endpoint takes the id it ends in.
        response_id = lead_id.removeprefix(RESPONSE_URN_PREFIX) if "(" not in lead_id else lead_id
        return await self.api.get(f"leadFormResponses/{quote(response_id, safe='')}", {})

    async def form(self, form_number: str) -> Any:
        return await self.api.get(f"leadForms/{quote(form_number, safe='')}", {})
