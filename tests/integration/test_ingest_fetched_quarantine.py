"""Nothing lost to a mapping, for the platforms whose lead is fetched: a Meta or LinkedIn lead
whose fetched fields cannot be mapped is quarantined whole (the notification and the platform
API's answer), answered 2xx while the delivery's other leads are accepted, listed, and replayed
after a field-map fix into exactly one `lead.ingested`.

A fetched lead with no email or phone is not unmappable: the platform's lead id identifies it.
What cannot be mapped is an identity field that does not fit, here a phone number that an
admin's field map sends to `email`; the fix maps the question to `phone`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from services.ingest.main import create_app
from shared.contracts import LeadIngested
from shared.db import Database
from tests.conftest import Infra
from tests.integration.test_ingest_webhooks import FakePlatform, _hmac, serve_platform, settings_for
from tests.support.ingest import MARKETING, configure_form, ingest_client, staged


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    yield from serve_platform()


def _graph_lead(leadgen_id: str, form_id: str, fields: dict[str, str]) -> dict[str, object]:
    # The Graph API's `/<leadgen_id>` answer as Meta documents it (field_data: name, values[]).
    return {
        "id": leadgen_id,
        "created_time": "2026-11-23T09:30:00+0000",
        "form_id": form_id,
        "field_data": [{"name": name, "values": [value]} for name, value in fields.items()],
    }


def _meta_delivery(form_id: str, leadgen_ids: list[str]) -> tuple[bytes, dict[str, str]]:
    changes = [
        {"field": "leadgen", "value": {"leadgen_id": int(i), "form_id": int(form_id), "page_id": 1}}
        for i in leadgen_ids
    ]
    body = json.dumps({"object": "page", "entry": [{"id": "1", "time": 1700000000, "changes": changes}]})
    headers = {
        "X-Hub-Signature-256": "sha256=" + _hmac(body.encode()).hex(),
        "content-type": "application/json",
    }
    return body.encode(), headers


PHONE = "+442079460958"


def _ingested(events: list[object], email: str) -> list[LeadIngested]:
    return [e for e in events if isinstance(e, LeadIngested) and e.payload.email == email]


async def test_an_unmappable_meta_lead_is_quarantined_and_replayed_while_its_neighbour_is_accepted(
    db: Database, settings_env: Infra, platform: FakePlatform
) -> None:
    form_id = str(uuid.uuid4().int % 10**12)
    good_id, bad_id = (str(uuid.uuid4().int % 10**15) for _ in range(2))
    good_email = f"mapped-{good_id}@meta.example"
    platform.leads[good_id] = _graph_lead(good_id, form_id, {"email": good_email, "full_name": "Ada Mapped"})
    # A custom question whose answer is a phone number, mapped to `email` by mistake.
    platform.leads[bad_id] = _graph_lead(
        bad_id, form_id, {"how_to_reach_you": PHONE, "full_name": "Grace Unmapped"}
    )
    body, headers = _meta_delivery(form_id, [good_id, bad_id])

    async with ingest_client(create_app(settings_for(platform))) as http:
        await configure_form(http, f"facebook.{form_id}", field_map={"how_to_reach_you": "email"})
        received = await http.post("/v1/webhooks/facebook", content=body, headers=headers)
        assert received.status_code == 200, received.text
        answer = received.json()
        quarantine_id = answer["quarantine_id"]
        assert answer["quarantine_ids"] == [quarantine_id]
        assert len(answer["leads"]) == 1

        listed = (await http.get("/v1/quarantine", headers=MARKETING)).json()
        [kept] = [d for d in listed if d["id"] == quarantine_id]
        assert (kept["source"], kept["reason"]) == ("facebook", "invalid_fields")
        stored = json.loads(kept["body"])
        assert stored["lead"] == platform.leads[bad_id]
        assert stored["notification"]["leadgen_id"] == bad_id
        metrics = (await http.get("/metrics")).text
        assert 'baton_ingest_quarantined_total{reason="invalid_fields",source="facebook"}' in metrics

        # Meta retries the delivery: the accepted lead is a duplicate, nothing new is created.
        retried = await http.post("/v1/webhooks/facebook", content=body, headers=headers)
        assert retried.status_code == 200, retried.text

        unfixed = await http.post(f"/v1/quarantine/{quarantine_id}/replay", headers=MARKETING)
        assert unfixed.status_code == 422, unfixed.text

        await configure_form(http, f"facebook.{form_id}", field_map={"how_to_reach_you": "phone"})
        replayed = await http.post(f"/v1/quarantine/{quarantine_id}/replay", headers=MARKETING)
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["status"] == "replayed"
        again = await http.post(f"/v1/quarantine/{quarantine_id}/replay", headers=MARKETING)
        assert again.json()["status"] == "already_replayed"

    events = await staged(db, "lead.ingested")
    assert len(_ingested(events, good_email)) == 1
    [lead] = [e for e in events if isinstance(e, LeadIngested) and e.payload.external_id == bad_id]
    assert lead.payload.phone == PHONE
    assert str(lead.event_id) == replayed.json()["event_id"]
    assert lead.payload.first_name == "Grace"


async def test_an_unmappable_linkedin_lead_is_quarantined_with_its_form_and_replayed(
    db: Database, settings_env: Infra, platform: FakePlatform
) -> None:
    form = str(uuid.uuid4().int % 10**9)
    urn = f"urn:li:leadGenFormResponse:(urn:li:sponsoredAccount:1,{uuid.uuid4()})"
    # A custom question, named only in the form definition: the replay must not need it again.
    platform.leads[f"leadForms/{form}"] = {
        "id": int(form),
        "content": {
            "questions": [
                {"questionId": 1, "name": "firstName", "predefinedField": "FIRST_NAME"},
                {"questionId": 9, "name": "Where we reach you"},
            ]
        },
    }
    answers = [(1, "Linus"), (9, PHONE)]
    platform.leads[urn] = {
        "submittedAt": 1700000000000,
        "versionedLeadGenFormUrn": f"urn:li:versionedLeadGenForm:(urn:li:leadGenForm:{form},1)",
        "formResponse": {
            "answers": [
                {"questionId": q, "answerDetails": {"textQuestionAnswer": {"answer": a}}} for q, a in answers
            ]
        },
    }
    body = json.dumps(
        {
            "type": "LEAD_ACTION",
            "leadGenFormResponse": urn,
            "leadGenForm": f"urn:li:leadGenForm:{form}",
            "leadAction": "CREATED",
            "occurredAt": 1700000000000,
        }
    ).encode()
    headers = {
        "X-LI-Signature": "hmacsha256=" + _hmac(b"hmacsha256=" + body).hex(),
        "content-type": "application/json",
    }

    async with ingest_client(create_app(settings_for(platform))) as http:
        await configure_form(http, f"linkedin.{form}", field_map={"Where we reach you": "email"})
        received = await http.post("/v1/webhooks/linkedin", content=body, headers=headers)
        assert received.status_code == 200, received.text
        quarantine_id = received.json()["quarantine_id"]
        assert quarantine_id is not None
        assert received.json()["leads"] == []

        listed = (await http.get("/v1/quarantine", headers=MARKETING)).json()
        [kept] = [d for d in listed if d["id"] == quarantine_id]
        assert (kept["source"], kept["reason"]) == ("linkedin", "invalid_fields")
        assert json.loads(kept["body"])["lead"] == platform.leads[urn]

        platform.leads.pop(f"leadForms/{form}")  # the replay maps what was fetched, asking no one
        await configure_form(http, f"linkedin.{form}", field_map={"Where we reach you": "phone"})
        replayed = await http.post(f"/v1/quarantine/{quarantine_id}/replay", headers=MARKETING)
        assert replayed.status_code == 200, replayed.text
        again = await http.post(f"/v1/quarantine/{quarantine_id}/replay", headers=MARKETING)
        assert again.json()["status"] == "already_replayed"

    events = await staged(db, "lead.ingested")
    [lead] = [e for e in events if isinstance(e, LeadIngested) and e.payload.external_id == urn]
    assert lead.payload.phone == PHONE
    assert str(lead.event_id) == replayed.json()["event_id"]
    assert lead.payload.first_name == "Linus"
