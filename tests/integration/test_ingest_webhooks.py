"""Every webhook provider end to end: a payload shaped as the platform documents it, signed as
the platform signs it, reaches scoring; a bad signature is 401 and publishes nothing; a retried
delivery creates nothing new. Meta's and LinkedIn's APIs are played by a local HTTP server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlencode, urlparse

import httpx
import pytest
from sqlalchemy import text

from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.scoring.main import create_app as create_scoring_app
from shared.contracts import LeadErased, LeadIngested
from shared.db import Database
from tests.conftest import Infra
from tests.support.apps import running_service
from tests.support.ingest import ADMIN, ingest_client, staged
from tests.support.waiting import eventually

SECRET = "webhook-secret-" + "z" * 20


@dataclass
class FakePlatform:
    """A platform API: JSON by path, an error answer (status, body) by path, optionally failing
    the first requests with 503."""

    leads: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, tuple[int, Any]] = field(default_factory=dict)
    fail_next: int = 0
    requests: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    yield from serve_platform()


def serve_platform() -> Iterator[FakePlatform]:
    """A `FakePlatform` answering on a local port until the generator closes."""
    fake = FakePlatform()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = unquote(urlparse(self.path).path).strip("/")
            fake.requests.append(self.path)
            if fake.fail_next > 0:
                fake.fail_next -= 1
                self.send_response(503)
                self.end_headers()
                return
            key = path.removeprefix("leadFormResponses/")
            status, body = fake.errors.get(key, (200, fake.leads.get(key)))
            self.send_response(status if body is not None else 404)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body or {"error": {"message": "unknown"}}).encode())

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def settings_for(platform: FakePlatform) -> IngestSettings:
    return IngestSettings(
        facebook_app_secret=SECRET,
        facebook_verify_token="verify-me",
        facebook_access_token="page-token",
        facebook_graph_url=platform.url,
        google_ads_key=SECRET,
        linkedin_client_secret=SECRET,
        linkedin_access_token="li-token",
        linkedin_api_url=platform.url,
        hubspot_client_secret=SECRET,
        typeform_secret=SECRET,
        webflow_secret=SECRET,
        unbounce_token=SECRET,
        platform_fetch_backoff_s=0.01,
    )


def _hmac(message: bytes) -> bytes:
    return hmac.new(SECRET.encode(), message, hashlib.sha256).digest()


@dataclass
class Delivery:
    path: str
    body: bytes
    headers: dict[str, str]
    tamper: Callable[[Delivery], Delivery]


def facebook(platform: FakePlatform, person: dict[str, str]) -> Delivery:
    leadgen_id = str(int(uuid.uuid4().int % 10**15))
    platform.leads[leadgen_id] = {
        "id": leadgen_id,
        "created_time": "2026-11-23T09:30:00+0000",
        "campaign_name": person["campaign"],
        "field_data": [
            {"name": "email", "values": [person["email"]]},
            {"name": "full_name", "values": [f"{person['first_name']} Lovelace"]},
            {"name": "company_name", "values": [person["company"]]},
        ],
    }
    notification = {
        "object": "page",
        "entry": [
            {
                "id": "153125381133",
                "time": 1700000000,
                "changes": [{"field": "leadgen", "value": {"leadgen_id": int(leadgen_id), "page_id": 1}}],
            }
        ],
    }
    body = json.dumps(notification).encode()
    signed = {"X-Hub-Signature-256": "sha256=" + _hmac(body).hex(), "content-type": "application/json"}
    bad = {**signed, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    return Delivery("/v1/webhooks/facebook", body, signed, lambda d: Delivery(d.path, d.body, bad, d.tamper))


def google_ads(_: FakePlatform, person: dict[str, str], *, key: str = SECRET) -> Delivery:
    payload = {
        "lead_id": f"TeSter-{uuid.uuid4()}",
        "api_version": "1.0",
        "form_id": 40000000,
        "campaign_id": person["campaign"],
        "google_key": key,
        "is_test": True,
        "user_column_data": [
            {"column_name": "User Email", "string_value": person["email"], "column_id": "EMAIL"},
            {"column_name": "First Name", "string_value": person["first_name"], "column_id": "FIRST_NAME"},
            {"column_name": "Company Name", "string_value": person["company"], "column_id": "COMPANY_NAME"},
        ],
    }
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json"}

    def tamper(d: Delivery) -> Delivery:
        return Delivery(d.path, json.dumps({**payload, "google_key": "wrong"}).encode(), headers, d.tamper)

    return Delivery("/v1/webhooks/google-ads", body, headers, tamper)


LINKEDIN_FORM = {
    "id": 77,
    "content": {
        "questions": [
            {"questionId": 1, "name": "email", "predefinedField": "EMAIL"},
            {"questionId": 2, "name": "firstName", "predefinedField": "FIRST_NAME"},
            {"questionId": 3, "name": "company", "predefinedField": "COMPANY_NAME"},
            {"questionId": 4, "name": "Budget"},
        ]
    },
}


def linkedin(platform: FakePlatform, person: dict[str, str]) -> Delivery:
    """A lead whose answers name only their question ids, as LinkedIn sends them; the form
    definition that maps them is served at `leadForms/77`."""
    urn = f"urn:li:leadGenFormResponse:(urn:li:sponsoredAccount:1,{uuid.uuid4()})"
    platform.leads["leadForms/77"] = LINKEDIN_FORM
    answers = [(1, person["email"]), (2, person["first_name"]), (3, person["company"]), (4, "50k")]
    platform.leads[urn] = {
        "testLead": False,
        "submittedAt": 1700000000000,
        "versionedLeadGenFormUrn": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:77,1)",
        "formResponse": {
            "answers": [
                {"questionId": q, "answerDetails": {"textQuestionAnswer": {"answer": a}}} for q, a in answers
            ]
        },
        "leadMetadata": {
            "sponsoredLeadMetadata": {"campaign": f"urn:li:sponsoredCampaign:{person['campaign']}"}
        },
    }
    return linkedin_notice(urn, "CREATED")


def linkedin_notice(urn: str, action: str) -> Delivery:
    body = json.dumps(
        {
            "type": "LEAD_ACTION",
            "leadGenFormResponse": urn,
            "leadGenForm": "urn:li:leadGenForm:77",
            "leadAction": action,
            "occurredAt": 1700000000000,
        }
    ).encode()
    # LinkedIn signs the body prefixed by `hmacsha256=` (its webhook-validation guide).
    signed = {
        "X-LI-Signature": "hmacsha256=" + _hmac(b"hmacsha256=" + body).hex(),
        "content-type": "application/json",
    }
    bad = {**signed, "X-LI-Signature": "hmacsha256=" + _hmac(body).hex()}
    return Delivery("/v1/webhooks/linkedin", body, signed, lambda d: Delivery(d.path, d.body, bad, d.tamper))


def hubspot(_: FakePlatform, person: dict[str, str]) -> Delivery:
    payload = {
        "submittedAt": 1700000000000,
        "fields": [
            {"objectTypeId": "0-1", "name": "email", "value": person["email"]},
            {"objectTypeId": "0-1", "name": "firstname", "value": person["first_name"]},
            {"objectTypeId": "0-1", "name": "company", "value": person["company"]},
        ],
        "context": {
            "hutk": uuid.uuid4().hex,
            "pageUri": f"https://www.example.com/demo?utm_campaign={person['campaign']}",
            "pageName": "Demo",
        },
        "legalConsentOptions": {
            "consent": {"consentToProcess": True, "text": "I agree", "communications": []}
        },
    }
    body = json.dumps(payload).encode()
    path = "/v1/webhooks/hubspot?formGuid=demo-guid"
    timestamp = str(int(time.time() * 1000))
    message = b"POST" + f"http://testserver{path}".encode() + body + timestamp.encode()
    signed = {
        "X-HubSpot-Signature-v3": base64.b64encode(_hmac(message)).decode(),
        "X-HubSpot-Request-Timestamp": timestamp,
        "content-type": "application/json",
    }
    bad = {**signed, "X-HubSpot-Request-Timestamp": str(int(timestamp) - 10 * 60 * 1000)}
    return Delivery(path, body, signed, lambda d: Delivery(d.path, d.body, bad, d.tamper))


def typeform(_: FakePlatform, person: dict[str, str]) -> Delivery:
    payload = {
        "event_id": "01HXYZ",
        "event_type": "form_response",
        "form_response": {
            "form_id": "lT4Z3j",
            "token": uuid.uuid4().hex,
            "submitted_at": "2026-11-23T09:30:00Z",
            "hidden": {"utm_campaign": person["campaign"]},
            "definition": {"id": "lT4Z3j", "title": "Demo", "fields": []},
            "answers": [
                {
                    "type": "email",
                    "email": person["email"],
                    "field": {"id": "a", "type": "email", "ref": "email"},
                },
                {
                    "type": "text",
                    "text": person["first_name"],
                    "field": {"id": "b", "type": "short_text", "ref": "first_name"},
                },
                {
                    "type": "text",
                    "text": person["company"],
                    "field": {"id": "c", "type": "short_text", "ref": "company"},
                },
            ],
        },
    }
    body = json.dumps(payload).encode()
    signed = {
        "Typeform-Signature": "sha256=" + base64.b64encode(_hmac(body)).decode(),
        "content-type": "application/json",
    }
    bad = {**signed, "Typeform-Signature": "sha256=" + _hmac(body).hex()}
    return Delivery("/v1/webhooks/typeform", body, signed, lambda d: Delivery(d.path, d.body, bad, d.tamper))


def webflow(_: FakePlatform, person: dict[str, str]) -> Delivery:
    payload = {
        "triggerType": "form_submission",
        "payload": {
            "name": "Contact Us",
            "siteId": "65427cf400e02b306eaa049c",
            "data": {
                "First Name": person["first_name"],
                "Email Address": person["email"],
                "Company": person["company"],
                "utm_campaign": person["campaign"],
            },
            "submittedAt": "2026-11-23T09:30:00.117Z",
            "id": uuid.uuid4().hex[:24],
            "formId": "65429eadebe8a9f3a30f62d0",
        },
    }
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time() * 1000))
    signed = {
        "x-webflow-timestamp": timestamp,
        "x-webflow-signature": _hmac(timestamp.encode() + b":" + body).hex(),
        "content-type": "application/json",
    }
    replayed = str(int(timestamp) - 10 * 60 * 1000)
    bad = {**signed, "x-webflow-timestamp": replayed}
    return Delivery("/v1/webhooks/webflow", body, signed, lambda d: Delivery(d.path, d.body, bad, d.tamper))


def unbounce(_: FakePlatform, person: dict[str, str]) -> Delivery:
    data = {
        "email": [person["email"]],
        "first_name": [person["first_name"]],
        "company_name": [person["company"]],
        "ip_address": ["203.0.113.7"],
        "time_submitted": [f"{uuid.uuid4()}"],
    }
    form = {
        "data.json": json.dumps(data),
        "page_id": "a3b5c7",
        "page_name": "Demo landing page",
        "page_url": f"https://lp.example.com/demo?utm_campaign={person['campaign']}",
        "variant": "a",
    }
    body = urlencode(form).encode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return Delivery(
        f"/v1/webhooks/unbounce?token={SECRET}",
        body,
        headers,
        lambda d: Delivery("/v1/webhooks/unbounce?token=guess", d.body, headers, d.tamper),
    )


PROVIDERS: dict[str, Callable[[FakePlatform, dict[str, str]], Delivery]] = {
    "facebook": facebook,
    "google-ads": google_ads,
    "linkedin": linkedin,
    "hubspot": hubspot,
    "typeform": typeform,
    "webflow": webflow,
    "unbounce": unbounce,
}


def person() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {
        "email": f"ada-{tag}@analytical.example",
        "first_name": "Ada",
        "company": "Analytical",
        "campaign": "777",
    }


async def post(http: httpx.AsyncClient, delivery: Delivery) -> httpx.Response:
    return await http.post(delivery.path, content=delivery.body, headers=delivery.headers)


@pytest.mark.parametrize("provider", PROVIDERS)
class TestEveryProvider:
    async def test_signed_delivery_reaches_scoring_with_the_lead_and_its_campaign(
        self, provider: str, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        who = person()
        async with (
            running_service(create_scoring_app(), db),
            ingest_client(create_app(settings_for(platform))) as http,
        ):
            response = await post(http, PROVIDERS[provider](platform, who))
            assert response.status_code == 200, response.text
            [answer] = response.json()["leads"]

            async def profiled() -> None:
                async with db.transaction() as session:
                    row = (
                        await session.execute(
                            text(
                                "SELECT email, first_name, company, source, utm FROM scoring.lead_profile "
                                "WHERE lead_id = :id"
                            ),
                            {"id": answer["lead_id"]},
                        )
                    ).one_or_none()
                assert row is not None
                assert (row.email, row.first_name, row.company, row.source) == (
                    who["email"],
                    "Ada",
                    "Analytical",
                    provider,
                )
                assert row.utm["campaign"] == who["campaign"]

            await eventually(profiled, timeout_s=30)

    async def test_bad_signature_is_401_and_publishes_nothing(
        self, provider: str, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        delivery = PROVIDERS[provider](platform, person())
        async with ingest_client(create_app(settings_for(platform))) as http:
            response = await post(http, delivery.tamper(delivery))
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert await staged(db) == []
        assert platform.requests == []

    async def test_retried_delivery_is_acknowledged_and_creates_nothing_new(
        self, provider: str, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        delivery = PROVIDERS[provider](platform, person())
        async with ingest_client(create_app(settings_for(platform))) as http:
            first = await post(http, delivery)
            again = await post(http, delivery)
        assert first.status_code == again.status_code == 200, again.text
        assert first.json()["leads"] == again.json()["leads"]
        assert again.json()["duplicates"] == 1
        assert len(await staged(db, "lead.ingested")) == 1


class TestFacebook:
    async def test_verification_handshake_echoes_the_challenge(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app(settings_for(platform))) as http:
            good = await http.get(
                "/v1/webhooks/facebook",
                params={
                    "hub.mode": "subscribe",
                    "hub.verify_token": "verify-me",
                    "hub.challenge": "1158201444",
                },
            )
            bad = await http.get(
                "/v1/webhooks/facebook",
                params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
            )
        assert (good.status_code, good.text) == (200, "1158201444")
        assert bad.status_code == 403

    async def test_graph_api_failures_are_retried_with_backoff(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        platform.fail_next = 2
        async with ingest_client(create_app(settings_for(platform))) as http:
            response = await post(http, facebook(platform, person()))
        assert response.status_code == 200, response.text
        assert len(platform.requests) == 3
        assert "access_token=page-token" in platform.requests[-1]
        assert len(await staged(db, "lead.ingested")) == 1

    async def test_graph_api_down_is_503_so_meta_retries_and_nothing_is_half_applied(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        platform.fail_next = 100
        async with ingest_client(create_app(settings_for(platform))) as http:
            response = await post(http, facebook(platform, person()))
        assert response.status_code == 503
        assert await staged(db) == []

    async def test_unconfigured_provider_is_404(self, db: Database, settings_env: Infra) -> None:
        async with ingest_client(create_app()) as http:
            response = await http.post("/v1/webhooks/facebook", json={})
        assert response.status_code == 404
        assert response.json()["type"].endswith("provider-not-configured")


class TestGoogleAds:
    async def test_test_leads_are_flagged(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app(settings_for(platform))) as http:
            response = await post(http, google_ads(platform, person()))
        assert response.status_code == 200
        [event] = await staged(db)
        assert isinstance(event, LeadIngested)
        assert event.payload.is_test
        assert event.payload.source == "google-ads"


class TestLinkedIn:
    async def test_answers_are_joined_to_the_form_fetched_once(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app(settings_for(platform))) as http:
            first = await post(http, linkedin(platform, person()))
            second = await post(http, linkedin(platform, person()))
        assert first.status_code == second.status_code == 200, first.text
        events = await staged(db)
        assert [type(e) for e in events] == [LeadIngested, LeadIngested]
        assert isinstance(events[0], LeadIngested)
        assert (events[0].payload.first_name, events[0].payload.company) == ("Ada", "Analytical")
        assert events[0].payload.attributes["Budget"] == "50k"
        assert [r for r in platform.requests if "leadForms" in r] == ["/leadForms/77"]

    async def test_challenge_is_answered_with_the_hmac(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        async with ingest_client(create_app(settings_for(platform))) as http:
            response = await http.get("/v1/webhooks/linkedin", params={"challengeCode": "abc-123"})
        assert response.json() == {"challengeCode": "abc-123", "challengeResponse": _hmac(b"abc-123").hex()}

    async def test_deleted_notification_erases_the_lead(
        self, platform: FakePlatform, db: Database, settings_env: Infra
    ) -> None:
        created = linkedin(platform, person())
        urn = json.loads(created.body)["leadGenFormResponse"]
        async with ingest_client(create_app(settings_for(platform))) as http:
            first = await post(http, created)
            deleted = await post(http, linkedin_notice(urn, "DELETED"))
            again = await post(http, linkedin_notice(urn, "DELETED"))
        lead_id = first.json()["leads"][0]["lead_id"]
        assert deleted.json()["erased"] == 1
        assert again.status_code == 200
        [erased] = await staged(db, "lead.erased")
        assert isinstance(erased, LeadErased)
        assert str(erased.lead_id) == lead_id
        assert erased.payload.reason == "linkedin"
        async with db.transaction() as session:
            email = await session.scalar(
                text("SELECT email FROM ingest.lead WHERE id = :id"), {"id": lead_id}
            )
            fields = await session.scalar(
                text("SELECT fields FROM ingest.submission WHERE lead_id = :id"), {"id": lead_id}
            )
        assert email.endswith("@erased.invalid")
        assert fields == {}


async def test_admin_erases_a_lead_by_id(platform: FakePlatform, db: Database, settings_env: Infra) -> None:
    async with ingest_client(create_app(settings_for(platform))) as http:
        response = await post(http, typeform(platform, person()))
        lead_id = response.json()["leads"][0]["lead_id"]
        erased = await http.delete(f"/v1/leads/{lead_id}", headers=ADMIN)
        missing = await http.delete(f"/v1/leads/{uuid.uuid4()}", headers=ADMIN)
    assert erased.status_code == 204
    assert missing.status_code == 404
    assert len(await staged(db, "lead.erased")) == 1


async def test_admin_erases_a_lead_by_any_spelling_of_its_email(
    platform: FakePlatform, db: Database, settings_env: Infra
) -> None:
    who = {**person(), "email": f"ada.{uuid.uuid4().hex[:6]}@gmail.com"}
    async with ingest_client(create_app(settings_for(platform))) as http:
        response = await post(http, typeform(platform, who))
        lead_id = response.json()["leads"][0]["lead_id"]
        respelled = who["email"].replace(".", "", 1).replace("@", "+x@")
        erased = await http.post("/v1/leads/erasure", json={"email": respelled}, headers=ADMIN)
        again = await http.post("/v1/leads/erasure", json={"email": who["email"]}, headers=ADMIN)
    assert erased.json() == {"lead_id": lead_id}
    assert again.status_code == 404
    assert len(await staged(db, "lead.erased")) == 1
