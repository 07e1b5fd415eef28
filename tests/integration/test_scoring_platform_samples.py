"""Every source's documented sample, posted as the platform sends it and signed as its docs
say, is read back from scoring's API: the lead's contact, name, company, campaign, consent and
the platform's submission time arrive in scoring, not only in ingest's event."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

import tests.integration.test_ingest_platform_samples as samples
from services.ingest.main import create_app
from services.scoring.main import create_app as create_scoring_app
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.integration.test_ingest_html_forms import BROWSER_HEADERS, SITE, web_to_lead
from tests.integration.test_ingest_webhooks import SECRET, FakePlatform, _hmac, serve_platform, settings_for
from tests.support.apps import running_service
from tests.support.ingest import configure_form, ingest_client
from tests.support.waiting import eventually

SAMPLES = Path(__file__).parents[1] / "fixtures" / "platforms"
MANAGER = bearer(Role.MANAGER)


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    yield from serve_platform()


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@dataclass(frozen=True)
class Expected:
    """What scoring must know of the lead: None where the sample does not carry the field."""

    contact: str
    first_name: str | None
    last_name: str | None
    company: str | None
    campaign: str | None
    consent: bool | None
    submitted_at: datetime | None


def meta(platform: FakePlatform) -> tuple[str, bytes, dict[str, str]]:
    # Meta's sample notification names two leads; the Graph API answers each with its sample lead.
    for leadgen_id in ("123123123123", "123123123124"):
        platform.leads[leadgen_id] = json.loads(sample("meta_graph_lead.json"))
    body = sample("meta_leadgen_notification.json")
    signed = {"X-Hub-Signature-256": "sha256=" + _hmac(body).hex(), "content-type": "application/json"}
    return "/v1/webhooks/facebook", body, signed


def google_ads_full() -> bytes:
    """Every column Google's schema names for a contact, built to its documented schema (the
    stored copy of the page has the schema, not a verbatim sample)."""
    payload: dict[str, Any] = {
        "lead_id": "TeSter-full-field",
        "user_column_data": [
            {"column_name": "Full Name", "string_value": "Gail Google", "column_id": "FULL_NAME"},
            {"column_name": "User Email", "string_value": "gail@example.com", "column_id": "EMAIL"},
            {"column_name": "User Phone", "string_value": "+16505550199", "column_id": "PHONE_NUMBER"},
            {"column_name": "Company Name", "string_value": "Gail Co", "column_id": "COMPANY_NAME"},
            {"column_name": "Job Title", "string_value": "CTO", "column_id": "JOB_TITLE"},
        ],
        "api_version": "1.0",
        "form_id": 40000000000,
        "campaign_id": 50000000001,
        "google_key": SECRET,
        "is_test": True,
        "gcl_id": "TeSter-gclid-full",
        "adgroup_id": 60000000000,
        "creative_id": 70000000000,
        "lead_submit_time": "2024-09-26T12:31:00Z",
    }
    return json.dumps(payload).encode()


def hubspot() -> tuple[str, bytes, dict[str, str]]:
    body = sample("hubspot_submission.json")
    path = "/v1/webhooks/hubspot?formGuid=78c2891f-ebdd-44c0-bd94-15c012bbbfbf"
    headers = samples.hubspot_signed(path, body)
    return path, body, headers


def unbounce() -> tuple[str, bytes, dict[str, str]]:
    # The form fields around `data.json` are documented by name; their values follow the sample's.
    form = {
        "page_id": "a2838d98-4cf4-11df-a3fd-00163e372d58",
        "page_name": "My Landing Page",
        "page_url": "http://my-landing-page.ca/",
        "variant": "a",
        "data.json": sample("unbounce_data.json").decode(),
    }
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return f"/v1/webhooks/unbounce?token={SECRET}", urlencode(form).encode(), headers


def typeform() -> tuple[str, bytes, dict[str, str]]:
    body = sample("typeform_form_response.json")
    headers = {
        "Typeform-Signature": "sha256=" + base64.b64encode(_hmac(body)).decode(),
        "content-type": "application/json",
    }
    return "/v1/webhooks/typeform", body, headers


def webflow() -> tuple[str, bytes, dict[str, str]]:
    body = sample("webflow_form_submission.json")
    timestamp = str(int(time.time() * 1000))
    headers = {
        "x-webflow-timestamp": timestamp,
        "x-webflow-signature": _hmac(timestamp.encode() + b":" + body).hex(),
        "content-type": "application/json",
    }
    return "/v1/webhooks/webflow", body, headers


async def lead_id_of(response: httpx.Response) -> str:
    assert response.status_code in (200, 202), response.text
    body = response.json()
    lead_id: str = body["leads"][0]["lead_id"] if "leads" in body else body["lead_id"]
    return lead_id


async def scored_lead(scoring: httpx.AsyncClient, lead_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def scored() -> None:
        response = await scoring.get(f"/v1/leads/{lead_id}/score", headers=MANAGER)
        assert response.status_code == 200, response.text
        found.update(response.json()["lead"])

    await eventually(scored, timeout_s=30)
    return found


async def test_every_documented_sample_reaches_scoring_with_the_lead(
    platform: FakePlatform, db: Database, settings_env: Infra
) -> None:
    linkedin = samples.TestLinkedIn()
    linkedin.serve_documented_lead(platform)
    expected: dict[str, tuple[Expected, str]] = {}
    async with (
        running_service(create_scoring_app(), db) as scoring,
        ingest_client(create_app(settings_for(platform))) as http,
    ):
        await configure_form(
            http,
            "web-to-lead",
            allowed_origins=[SITE],
            success_url=f"{SITE}/thanks",
            field_map={"emailOptOut": "consent", "employees": "company_size"},
            utm_fields={"Campaign_ID": "campaign"},
            value_transforms={"emailOptOut": {"invert": True}, "employees": {"number_range": "midpoint"}},
        )

        async def webhook(path: str, body: bytes, headers: dict[str, str]) -> str:
            return await lead_id_of(await http.post(path, content=body, headers=headers))

        expected["meta"] = (
            Expected("joe@example.com", "Joe", "Example", None, None, None,
                     datetime(2015, 2, 28, 8, 49, 14, tzinfo=UTC)),
            await webhook(*meta(platform)),
        )  # fmt: skip
        expected["google-ads full"] = (
            Expected("gail@example.com", "Gail", "Google", "Gail Co", "50000000001", None,
                     datetime(2024, 9, 26, 12, 31, tzinfo=UTC)),
            await webhook("/v1/webhooks/google-ads", google_ads_full(), {"content-type": "application/json"}),
        )  # fmt: skip
        expected["google-ads name+phone"] = (
            Expected("+16505550123", "FirstName", "LastName", None, "50000000000", None,
                     datetime(2024, 9, 26, 12, 30, tzinfo=UTC)),
            await webhook("/v1/webhooks/google-ads", samples.google_name_and_phone(),
                          {"content-type": "application/json"}),
        )  # fmt: skip
        expected["hubspot"] = (
            Expected("example@example.com", "Jeff", None, None, None, True,
                     datetime.fromtimestamp(1_517_927_174, UTC)),
            await webhook(*hubspot()),
        )  # fmt: skip
        expected["unbounce"] = (
            Expected("test@test.com", None, None, None, "My Landing Page", None,
                     datetime(2023, 6, 6, 22, 57, tzinfo=UTC)),
            await webhook(*unbounce()),
        )  # fmt: skip
        body, headers = linkedin.notification()
        expected["linkedin"] = (
            Expected("test1@gmail.com", "Test 1", "Test 1", None, "32131231", None,
                     datetime(2024, 1, 31, 22, 51, 42, 694000, tzinfo=UTC)),
            await webhook("/v1/webhooks/linkedin", body, headers),
        )  # fmt: skip
        expected["typeform"] = (
            Expected("laura@example.com", "Laura", None, None, None, True,
                     datetime(2018, 1, 18, 18, 17, 2, tzinfo=UTC)),
            await webhook(*typeform()),
        )  # fmt: skip
        expected["webflow"] = (
            Expected("zaphod@heartofgold.ai", "Zaphod", "Beeblebrox", None, None, None,
                     datetime(2022, 9, 14, 12, 35, 16, 117000, tzinfo=UTC)),
            await webhook(*webflow()),
        )  # fmt: skip
        posted = await http.post(
            "/v1/forms/web-to-lead/submissions",
            data={**web_to_lead("wendy@widgets.example", f"{SITE}/thank-you"), "Campaign_ID": "701Wendy"},
            headers={**BROWSER_HEADERS, "accept": "application/json"},
        )
        expected["salesforce web-to-lead"] = (
            Expected("wendy@widgets.example", "Wendy", "Weber", "Weber Widgets", "701Wendy", False, None),
            await lead_id_of(posted),
        )

        for source, (want, lead_id) in expected.items():
            lead = await scored_lead(scoring, lead_id)
            submitted_at = datetime.fromisoformat(lead["submitted_at"]) if lead["submitted_at"] else None
            got = Expected(
                contact=lead["email"] or lead["phone"],
                first_name=lead["first_name"],
                last_name=lead["last_name"],
                company=lead["company"],
                campaign=lead["utm"].get("campaign"),
                consent=lead["consent"],
                # A form post carries no platform time: scoring has the time Baton received it.
                submitted_at=submitted_at if want.submitted_at else None,
            )
            assert got == want, source
            assert submitted_at is not None, source
