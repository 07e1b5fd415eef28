"""Webhook signatures and replay windows, enforced over HTTP for every provider.

`tests/integration/test_ingest_webhooks.py` sends each provider a good delivery, a tampered
one and a retried one. Here: a delivery without any signature, and for the providers that
sign a timestamp (HubSpot, Webflow) a delivery signed correctly but outside the five-minute
window, in the past (a replay) or the future, or with a timestamp that is no number. Each is
401 with a problem document, and nothing is staged; the platform's API is never called. And a
signed delivery whose fields have every wrong JSON type still yields its lead, never a 5xx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import replace

import pytest

from services.ingest.main import create_app
from services.ingest.schemas import MAX_ATTRIBUTE_LENGTH
from shared.contracts import LeadIngested
from shared.db import Database
from tests.conftest import Infra
from tests.integration.test_ingest_webhooks import (
    PROVIDERS,
    SECRET,
    Delivery,
    FakePlatform,
    person,
    post,
    settings_for,
)
from tests.support.ingest import ingest_client, staged

SIGNATURE_HEADERS = {
    "x-hub-signature-256",
    "x-li-signature",
    "x-hubspot-signature-v3",
    "x-hubspot-request-timestamp",
    "typeform-signature",
    "x-webflow-signature",
    "x-webflow-timestamp",
}
WINDOW_MS = 5 * 60 * 1000


def unsigned(delivery: Delivery) -> Delivery:
    """The delivery with every trace of its signature or key removed."""
    headers = {k: v for k, v in delivery.headers.items() if k.lower() not in SIGNATURE_HEADERS}
    path = delivery.path.split("?token=")[0]
    body = delivery.body
    if delivery.path.endswith("/google-ads"):
        payload = json.loads(body)
        payload.pop("google_key")
        body = json.dumps(payload).encode()
    return replace(delivery, path=path, headers=headers, body=body)


def _hmac(message: bytes) -> bytes:
    return hmac.new(SECRET.encode(), message, hashlib.sha256).digest()


def signed_at(provider: str, delivery: Delivery, timestamp: str) -> Delivery:
    """A correct signature over `timestamp`, whatever that timestamp is."""
    if provider == "hubspot":
        message = b"POST" + f"http://testserver{delivery.path}".encode() + delivery.body + timestamp.encode()
        headers = {
            **delivery.headers,
            "X-HubSpot-Signature-v3": base64.b64encode(_hmac(message)).decode(),
            "X-HubSpot-Request-Timestamp": timestamp,
        }
    else:
        headers = {
            **delivery.headers,
            "x-webflow-timestamp": timestamp,
            "x-webflow-signature": _hmac(timestamp.encode() + b":" + delivery.body).hex(),
        }
    return replace(delivery, headers=headers)


def nowhere() -> FakePlatform:
    # Nothing may reach the platform's API before the signature is checked.
    return FakePlatform(url="http://127.0.0.1:9")


async def assert_refused(db: Database, platform: FakePlatform, delivery: Delivery) -> None:
    async with ingest_client(create_app(settings_for(platform))) as http:
        response = await post(http, delivery)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert SECRET not in response.text
    assert await staged(db) == []
    assert platform.requests == []


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_unsigned_delivery_is_401_and_stages_nothing(
    provider: str, db: Database, settings_env: Infra
) -> None:
    platform = nowhere()
    await assert_refused(db, platform, unsigned(PROVIDERS[provider](platform, person())))


@pytest.mark.parametrize("provider", ["hubspot", "webflow"])
@pytest.mark.parametrize(
    "offset_ms", [-WINDOW_MS - 60_000, WINDOW_MS + 60_000], ids=["replayed-6-min-later", "6-min-ahead"]
)
async def test_a_correctly_signed_delivery_outside_the_window_is_401(
    provider: str, offset_ms: int, db: Database, settings_env: Infra
) -> None:
    platform = nowhere()
    delivery = PROVIDERS[provider](platform, person())
    timestamp = str(int(time.time() * 1000) + offset_ms)
    await assert_refused(db, platform, signed_at(provider, delivery, timestamp))


@pytest.mark.parametrize("provider", ["hubspot", "webflow"])
@pytest.mark.parametrize("timestamp", ["", "soon", "1e12", "-1"])
async def test_a_timestamp_that_is_no_number_is_401(
    provider: str, timestamp: str, db: Database, settings_env: Infra
) -> None:
    platform = nowhere()
    delivery = PROVIDERS[provider](platform, person())
    await assert_refused(db, platform, signed_at(provider, delivery, timestamp))


@pytest.mark.parametrize("provider", ["hubspot", "webflow"])
async def test_a_fresh_timestamp_on_a_changed_body_is_401(
    provider: str, db: Database, settings_env: Infra
) -> None:
    platform = nowhere()
    delivery = PROVIDERS[provider](platform, person())
    swapped = replace(delivery, body=delivery.body.replace(b"Analytical", b"Malicious!"))
    await assert_refused(db, platform, swapped)


async def test_a_linkedin_signature_over_the_bare_body_is_401(db: Database, settings_env: Infra) -> None:
    """LinkedIn signs the body prefixed by `hmacsha256=`; the bare body's HMAC is a forgery's guess."""
    platform = nowhere()
    delivery = PROVIDERS["linkedin"](platform, person())
    for forged in (_hmac(delivery.body).hex(), _hmac(b"hmacsha256=").hex(), "hmacsha256="):
        await assert_refused(
            db, platform, replace(delivery, headers={**delivery.headers, "X-LI-Signature": forged})
        )


async def test_oddly_typed_fields_are_kept_as_bounded_attributes_never_a_5xx(
    db: Database, settings_env: Infra
) -> None:
    """Numbers, booleans, nulls, arrays, objects and a half-megabyte answer where text is expected:
    the lead is accepted, nothing is dropped silently, and no attribute outgrows its bound."""
    timestamp = str(int(time.time() * 1000))
    body = json.dumps(
        {
            "triggerType": "form_submission",
            "payload": {
                "name": "Contact Us",
                "id": "6321ca84df3949bfc6752327",
                "data": {
                    "email": "odd@example.com",
                    "First Name": ["Zaphod", "Z"],
                    "Company": {"name": "Heart of Gold"},
                    "Company Size": "lots",
                    "Phone Number": 15550000000,
                    "Newsletter": True,
                    "Country": None,
                    "Notes": "x" * 500_000,
                },
            },
        }
    ).encode()
    headers = {
        "content-type": "application/json",
        "x-webflow-timestamp": timestamp,
        "x-webflow-signature": _hmac(timestamp.encode() + b":" + body).hex(),
    }
    async with ingest_client(create_app(settings_for(nowhere()))) as http:
        response = await http.post("/v1/webhooks/webflow", content=body, headers=headers)
    assert response.status_code == 200, response.text
    [event] = await staged(db, "lead.ingested")
    assert isinstance(event, LeadIngested)
    lead = event.payload
    assert (lead.email, lead.first_name, lead.company) == ("odd@example.com", "Zaphod, Z", None)
    assert lead.attributes["company"] == '{"name": "Heart of Gold"}'
    assert (lead.phone, lead.company_size) == ("15550000000", None)
    assert lead.attributes["company_size"] == "lots"
    assert lead.attributes["newsletter"] == "true"
    assert all(len(value) <= MAX_ATTRIBUTE_LENGTH for value in lead.attributes.values())
