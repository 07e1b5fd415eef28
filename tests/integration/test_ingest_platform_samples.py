"""Each platform's own documented sample (tests/fixtures/platforms/, byte for byte), posted as
the platform sends it and signed as its docs say, arrives as one `lead.ingested` with the lead's
contact, name, company, campaign, consent and the platform's submission time."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from services.ingest.main import create_app
from shared.contracts import LeadIngested, LeadIngestedPayload
from shared.db import Database
from tests.conftest import Infra
from tests.integration.test_ingest_webhooks import (
    SECRET,
    FakePlatform,
    _hmac,
    facebook,
    hubspot,
    linkedin,
    person,
    post,
    serve_platform,
    settings_for,
)
from tests.support.ingest import configure_form, ingest_client, staged

SAMPLES = Path(__file__).parents[1] / "fixtures" / "platforms"


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    yield from serve_platform()


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def hubspot_signed(path: str, body: bytes) -> dict[str, str]:
    """HubSpot's v3 headers: base64 HMAC-SHA256 of method + URI + body + timestamp, keyed with
    the app's client secret."""
    timestamp = str(int(time.time() * 1000))
    message = b"POST" + f"http://testserver{path}".encode() + body + timestamp.encode()
    return {
        "X-HubSpot-Signature-v3": base64.b64encode(_hmac(message)).decode(),
        "X-HubSpot-Request-Timestamp": timestamp,
        "content-type": "application/json",
    }


async def ingested(db: Database) -> LeadIngested:
    [event] = await staged(db, "lead.ingested")
    assert isinstance(event, LeadIngested)
    return event


class TestLinkedIn:
    RESPONSE_ID = "52dcb737-26f9-4af3-b1fc-935b3e93f838-4"

    def serve_documented_lead(self, platform: FakePlatform) -> None:
        platform.leads[self.RESPONSE_ID] = json.loads(sample("linkedin_lead_form_response.json"))
        platform.leads["leadForms/3213"] = {
            "id": 3213,
            "content": {
                "questions": [
                    {"questionId": 20502584796, "name": "email", "predefinedField": "EMAIL"},
                    {"questionId": 20502643516, "name": "firstName", "predefinedField": "FIRST_NAME"},
                    {"questionId": 20502667260, "name": "lastName", "predefinedField": "LAST_NAME"},
                ]
            },
        }

    def notification(self, *, prefix_header: bool = True) -> tuple[bytes, dict[str, str]]:
        # Lead Sync's notification, as documented: the form by its versioned URN (with the
        # space after the comma), the response by URN, the owner and the creative.
        body = json.dumps(
            {
                "type": "LEAD_ACTION",
                "leadGenFormResponse": f"urn:li:leadGenFormResponse:{self.RESPONSE_ID}",
                "leadGenForm": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:3213, 1)",
                "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:1232131"},
                "associatedEntity": {"sponsoredCreative": "urn:li:sponsoredCreative:369799186"},
                "leadType": "SPONSORED",
                "leadAction": "CREATED",
                "occurredAt": 1706741503000,
            }
        ).encode()
        # The webhook-validation guide: HMAC-SHA256 of the POST body prefixed by `hmacsha256=`.
        signature = _hmac(b"hmacsha256=" + body).hex()
        header = "hmacsha256=" + signature if prefix_header else signature
        return body, {"X-LI-Signature": header, "content-type": "application/json"}

    @pytest.mark.parametrize("prefix_header", [True, False])
    async def test_a_notification_signed_as_documented_is_accepted_with_the_documented_lead(
        self, prefix_header: bool, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        self.serve_documented_lead(platform)
        body, headers = self.notification(prefix_header=prefix_header)
        async with ingest_client(create_app(settings_for(platform))) as http:
            response = await http.post("/v1/webhooks/linkedin", content=body, headers=headers)
        assert response.status_code == 200, response.text
        lead = (await ingested(db)).payload
        assert (lead.email, lead.first_name, lead.last_name) == ("test1@gmail.com", "Test 1", "Test 1")
        assert lead.utm["campaign"] == "32131231"
        assert lead.is_test
        assert lead.consent is None  # the sample's form asked no consent
        assert lead.submitted_at == datetime(2024, 1, 31, 22, 51, 42, 694000, tzinfo=UTC)
        assert lead.received_at is not None
        assert lead.received_at > lead.submitted_at
        assert f"/leadFormResponses/{self.RESPONSE_ID}" in platform.requests

    async def test_a_form_field_map_names_a_custom_question(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app(settings_for(platform))) as http:
            await configure_form(http, "linkedin.77", field_map={"Budget": "product_interest"})
            response = await post(http, linkedin(platform, person()))
        assert response.status_code == 200, response.text
        lead = (await ingested(db)).payload
        assert lead.product_interest == "50k"
        assert "Budget" not in lead.attributes


class TestTypeform:
    def signed(self, body: bytes) -> dict[str, str]:
        # "sha256=" + base64 HMAC-SHA256 of the raw body, keyed with the webhook's secret.
        return {
            "Typeform-Signature": "sha256=" + base64.b64encode(_hmac(body)).decode(),
            "content-type": "application/json",
        }

    async def test_the_documented_example_payload_arrives_with_every_answer(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        body = sample("typeform_form_response.json")
        async with ingest_client(create_app(settings_for(platform))) as http:
            response = await http.post("/v1/webhooks/typeform", content=body, headers=self.signed(body))
        assert response.status_code == 200, response.text
        lead = (await ingested(db)).payload
        assert (lead.email, lead.first_name) == ("laura@example.com", "Laura")
        assert lead.consent is True  # the legal question, accepted
        assert lead.submitted_at == datetime(2018, 1, 18, 18, 17, 2, tzinfo=UTC)
        assert lead.external_id == "a3a12ec67a1365927098a606107fac15"
        # The ten other answers, none dropped: kept under their refs.
        assert {k: lead.attributes[k] for k in lead.attributes if "readable_ref" in k} == {
            "[readable_ref_long_text": "It's cold right now! I live in an older medium-sized city with "
            "a university. Geographically, the area is hilly.",
            "readable_ref_date": "2005-10-15",
            "readable_ref_picture_choice": "London, Sydney",
            "readable_ref_number1": "5",
            "readable_ref_multiple_choice": "London",
            "readable_ref_yes_no": "false",
            "readable_ref_opinion_scale": "2",
            "readable_ref_rating": "3",
            "readable_ref_number2": "4",
        }

    async def test_a_form_field_map_sends_a_question_to_a_lead_field_without_code(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        body = sample("typeform_form_response.json")
        async with ingest_client(create_app(settings_for(platform))) as http:
            await configure_form(http, "typeform", field_map={"readable_ref_short_text": "last_name"})
            await configure_form(
                http,
                "typeform.lT4Z3j",
                field_map={"readable_ref_multiple_choice": "company"},
                utm_fields={"readable_ref_picture_choice": "campaign"},
            )
            response = await http.post("/v1/webhooks/typeform", content=body, headers=self.signed(body))
        assert response.status_code == 200, response.text
        lead = (await ingested(db)).payload
        assert (lead.first_name, lead.last_name, lead.company) == (None, "Laura", "London")
        assert lead.utm["campaign"] == "London, Sydney"
        assert "readable_ref_multiple_choice" not in lead.attributes


class TestWebflow:
    async def test_the_documented_example_with_a_numeric_phone_is_accepted_whole(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        body = sample("webflow_form_submission.json")
        timestamp = str(int(time.time() * 1000))
        headers = {
            "x-webflow-timestamp": timestamp,
            "x-webflow-signature": _hmac(timestamp.encode() + b":" + body).hex(),
            "content-type": "application/json",
        }
        async with ingest_client(create_app(settings_for(platform))) as http:
            response = await http.post("/v1/webhooks/webflow", content=body, headers=headers)
        assert response.status_code == 200, response.text
        lead = (await ingested(db)).payload
        assert (lead.email, lead.first_name, lead.last_name) == (
            "zaphod@heartofgold.ai",
            "Zaphod",
            "Beeblebrox",
        )
        assert lead.phone == "15550000000"
        assert lead.submitted_at == datetime(2022, 9, 14, 12, 35, 16, 117000, tzinfo=UTC)
        assert lead.attributes["form_name"] == "Contact Us"


class TestMetaGraphErrors:
    async def test_a_fetched_lead_brings_its_disclaimer_consent_and_created_time(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        who = person()
        delivery = facebook(platform, who)
        leadgen_id = str(json.loads(delivery.body)["entry"][0]["changes"][0]["value"]["leadgen_id"])
        # The Lead node's `custom_disclaimer_responses`: checkbox_key and is_checked, both strings.
        platform.leads[leadgen_id]["custom_disclaimer_responses"] = [
            {"checkbox_key": "optin", "is_checked": "1"}
        ]
        async with ingest_client(create_app(settings_for(platform))) as http:
            response = await post(http, delivery)
        assert response.status_code == 200, response.text
        lead = (await ingested(db)).payload
        assert (lead.email, lead.first_name, lead.company) == (who["email"], "Ada", "Analytical")
        assert lead.utm["campaign"] == who["campaign"]
        assert lead.consent is True
        assert lead.submitted_at == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
        assert "custom_disclaimer_responses" in platform.requests[0]

    async def test_a_lead_the_graph_api_refuses_for_good_is_acknowledged_with_the_reason(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        delivery = facebook(platform, person())
        leadgen_id = json.loads(delivery.body)["entry"][0]["changes"][0]["value"]["leadgen_id"]
        platform.errors[str(leadgen_id)] = (400, json.loads(sample("graph_error_oauth.json")))
        async with ingest_client(create_app(settings_for(platform))) as http:
            response = await post(http, delivery)
        assert response.status_code == 200, response.text
        [missing] = response.json()["not_fetched"]
        assert missing["external_id"] == str(leadgen_id)
        assert "OAuthException" in missing["reason"]
        assert "code 190" in missing["reason"]
        assert len(platform.requests) == 1  # not retried
        assert await staged(db) == []

    async def test_a_throttled_fetch_is_503_so_meta_delivers_again(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        delivery = facebook(platform, person())
        leadgen_id = json.loads(delivery.body)["entry"][0]["changes"][0]["value"]["leadgen_id"]
        throttled = {"error": {"message": "(#4) Application request limit reached", "type": "OAuthException",
                               "is_transient": True, "code": 4, "fbtrace_id": "Aq3"}}  # fmt: skip
        platform.errors[str(leadgen_id)] = (400, throttled)
        async with ingest_client(create_app(settings_for(platform))) as http:
            response = await post(http, delivery)
        assert response.status_code == 503, response.text
        assert len(platform.requests) > 1
        assert await staged(db) == []


async def test_hubspot_documented_example_arrives_with_its_consent_and_string_timestamp(
    platform: FakePlatform, db: Database, settings_env: Infra
) -> None:
    body = sample("hubspot_submission.json")
    path = "/v1/webhooks/hubspot?formGuid=78c2891f-ebdd-44c0-bd94-15c012bbbfbf"
    headers = hubspot_signed(path, body)
    async with ingest_client(create_app(settings_for(platform))) as http:
        response = await http.post(path, content=body, headers=headers)
    assert response.status_code == 200, response.text
    lead = (await ingested(db)).payload
    assert (lead.email, lead.first_name) == ("example@example.com", "Jeff")
    assert lead.consent is True
    assert lead.submitted_at == datetime.fromtimestamp(1_517_927_174, UTC)
    assert lead.form_id == "78c2891f-ebdd-44c0-bd94-15c012bbbfbf"


async def test_hubspot_consent_and_submission_time_arrive(
    platform: FakePlatform, db: Database, settings_env: Infra
) -> None:
    who = person()
    async with ingest_client(create_app(settings_for(platform))) as http:
        response = await post(http, hubspot(platform, who))
    assert response.status_code == 200, response.text
    lead = (await ingested(db)).payload
    assert (lead.email, lead.first_name, lead.company) == (who["email"], "Ada", "Analytical")
    assert lead.utm["campaign"] == who["campaign"]
    assert lead.consent is True
    assert lead.submitted_at == datetime.fromtimestamp(1_700_000_000, UTC)


def unbounce_form(page_url: str = "http://my-landing-page.ca/") -> bytes:
    # Unbounce's documented `data.json`, byte for byte, inside the form-encoded body; the fields
    # around it are documented by name, their values follow the sample's.
    form = {
        "page_id": "a2838d98-4cf4-11df-a3fd-00163e372d58",
        "page_name": "My Landing Page",
        "page_url": page_url,
        "variant": "a",
        "data.json": sample("unbounce_data.json").decode(),
    }
    return urlencode(form).encode()


class TestUnbounce:
    async def post(self, platform: FakePlatform, body: bytes) -> None:
        async with ingest_client(create_app(settings_for(platform))) as http:
            response = await http.post(
                f"/v1/webhooks/unbounce?token={SECRET}",
                content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
        assert response.status_code == 200, response.text

    async def test_the_documented_sample_keeps_its_page_and_drops_nothing(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        await self.post(platform, unbounce_form())
        lead = (await ingested(db)).payload
        assert lead.email == "test@test.com"
        assert lead.submitted_at == datetime(2023, 6, 6, 22, 57, tzinfo=UTC)
        # The page's fields describe the page: none of them becomes the person's name.
        assert (lead.first_name, lead.last_name) == (None, None)
        assert lead.form_id == "a2838d98-4cf4-11df-a3fd-00163e372d58"
        assert lead.utm["campaign"] == "My Landing Page"
        assert lead.latest_touch is not None
        assert lead.latest_touch.campaign == "My Landing Page"
        assert lead.attributes["page_url"] == "http://my-landing-page.ca/"
        assert lead.attributes["page_name"] == "My Landing Page"
        assert lead.attributes["variant"] == "a"
        assert lead.attributes["ip_address"] == "1.1.1.1"

    async def test_a_page_address_with_utm_tags_names_the_campaign(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        await self.post(
            platform, unbounce_form("http://my-landing-page.ca/?utm_campaign=summer&utm_source=li")
        )
        lead = (await ingested(db)).payload
        assert (lead.utm["campaign"], lead.utm["source"]) == ("summer", "li")


async def test_meta_documented_notification_fetches_each_documented_lead_whole(
    platform: FakePlatform, db: Database, settings_env: Infra
) -> None:
    for leadgen_id in ("123123123123", "123123123124"):
        platform.leads[leadgen_id] = json.loads(sample("meta_graph_lead.json"))
    body = sample("meta_leadgen_notification.json")
    headers = {"X-Hub-Signature-256": "sha256=" + _hmac(body).hex(), "content-type": "application/json"}
    async with ingest_client(create_app(settings_for(platform))) as http:
        response = await http.post("/v1/webhooks/facebook", content=body, headers=headers)
    assert response.status_code == 200, response.text
    events = await staged(db, "lead.ingested")
    assert sorted(e.payload.external_id or "" for e in events if isinstance(e, LeadIngested)) == [
        "123123123123",
        "123123123124",
    ]
    lead = events[0].payload
    assert isinstance(lead, LeadIngestedPayload)
    assert (lead.email, lead.first_name, lead.last_name) == ("joe@example.com", "Joe", "Example")
    assert lead.submitted_at == datetime(2015, 2, 28, 8, 49, 14, tzinfo=UTC)
    # The form's own questions are kept, not dropped.
    assert (lead.attributes["car_make"], lead.attributes["selected_dealer"]) == ("Honda", "99213450")


def google_name_and_phone() -> bytes:
    """A "Name + Phone" lead form delivery, built to Google's documented schema (the stored copy
    of the page has the schema, not a verbatim sample): no email column."""
    payload: dict[str, Any] = {
        "lead_id": f"TeSter-{uuid.uuid4()}",
        "user_column_data": [
            {"column_name": "Full Name", "string_value": "FirstName LastName", "column_id": "FULL_NAME"},
            {"column_name": "User Phone", "string_value": "+16505550123", "column_id": "PHONE_NUMBER"},
        ],
        "api_version": "1.0",
        "form_id": 40000000000,
        "campaign_id": 50000000000,
        "google_key": SECRET,
        "is_test": True,
        "gcl_id": "TeSter-gclid",
        "adgroup_id": 60000000000,
        "creative_id": 70000000000,
        "lead_submit_time": "2024-09-26T12:30:00Z",
    }
    return json.dumps(payload).encode()


async def test_google_ads_name_and_phone_lead_is_accepted(
    platform: FakePlatform, db: Database, settings_env: Infra
) -> None:
    async with ingest_client(create_app(settings_for(platform))) as http:
        response = await http.post(
            "/v1/webhooks/google-ads",
            content=google_name_and_phone(),
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 200, response.text
    lead = (await ingested(db)).payload
    assert (lead.phone, lead.first_name, lead.last_name) == ("+16505550123", "FirstName", "LastName")
    assert lead.utm["campaign"] == "50000000000"
    assert lead.submitted_at == datetime(2024, 9, 26, 12, 30, tzinfo=UTC)
