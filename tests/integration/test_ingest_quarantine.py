"""Nothing lost to a mapping: an authenticated delivery that cannot be mapped is quarantined
whole, answered 2xx (so the platform stops retrying), counted, listed, and replayed after the
mapping is fixed into exactly one `lead.ingested`."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from shared.contracts import LeadIngested
from shared.db import Database
from tests.conftest import Infra
from tests.support.ingest import MARKETING, ingest_client, staged

TOKEN = "unbounce-" + "k" * 24


def unbounce_body(email: str) -> bytes:
    # Unbounce posts the form's fields in `data.json`, every value an array; this page names its
    # email input "Contact address", which no built-in mapping knows.
    data = {
        "contact_address": [email],
        "first_name": ["Quinn"],
        "company_name": ["Quarantine Labs"],
        "ip_address": ["203.0.113.7"],
        "time_submitted": ["04:05 PM UTC"],
    }
    form = {"data.json": json.dumps(data), "page_id": "q7r8s9", "page_name": "Demo", "variant": "a"}
    return urlencode(form).encode()


def _lead_for(events: list[LeadIngested], email: str) -> list[LeadIngested]:
    return [e for e in events if e.payload.email == email]


async def test_an_unmappable_delivery_is_kept_listed_and_replayed_into_one_lead(
    db: Database, settings_env: Infra
) -> None:
    email = f"quinn-{uuid.uuid4().hex[:8]}@quarantine.example"
    body = unbounce_body(email)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    async with ingest_client(create_app(IngestSettings(unbounce_token=TOKEN))) as http:
        received = await http.post(f"/v1/webhooks/unbounce?token={TOKEN}", content=body, headers=headers)
        assert received.status_code == 200, received.text
        quarantine_id = received.json()["quarantine_id"]
        assert quarantine_id is not None
        assert received.json()["leads"] == []

        listed = (await http.get("/v1/quarantine", headers=MARKETING)).json()
        [kept] = [d for d in listed if d["id"] == quarantine_id]
        assert (kept["source"], kept["reason"]) == ("unbounce", "no_contact_point")
        assert kept["body"].encode() == body
        assert kept["replayed_at"] is None
        metrics = (await http.get("/metrics")).text
        assert 'baton_ingest_quarantined_total{reason="no_contact_point",source="unbounce"}' in metrics

        unfixed = await http.post(f"/v1/quarantine/{quarantine_id}/replay", headers=MARKETING)
        assert unfixed.status_code == 422, unfixed.text
        assert unfixed.headers["content-type"].startswith("application/problem+json")

        fix = {"field_map": {"contact_address": "email"}}
        replayed = await http.post(f"/v1/quarantine/{quarantine_id}/replay", json=fix, headers=MARKETING)
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["status"] == "replayed"
        again = await http.post(f"/v1/quarantine/{quarantine_id}/replay", json=fix, headers=MARKETING)
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "already_replayed"
        assert again.json()["lead_id"] == replayed.json()["lead_id"]
        assert again.json()["event_id"] == replayed.json()["event_id"]

        pending = (await http.get("/v1/quarantine", headers=MARKETING)).json()
        assert quarantine_id not in {d["id"] for d in pending}

    ingested = [e for e in await staged(db, "lead.ingested") if isinstance(e, LeadIngested)]
    [lead] = _lead_for(ingested, email)
    assert str(lead.event_id) == replayed.json()["event_id"]
    assert lead.payload.first_name == "Quinn"
    assert lead.payload.company == "Quarantine Labs"


async def test_a_body_that_is_no_form_at_all_is_quarantined_not_refused(
    db: Database, settings_env: Infra
) -> None:
    async with ingest_client(create_app(IngestSettings(unbounce_token=TOKEN))) as http:
        received = await http.post(
            f"/v1/webhooks/unbounce?token={TOKEN}",
            content=b"data.json=%7Bnot-json",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert received.status_code == 200, received.text
        listed = (await http.get("/v1/quarantine", headers=MARKETING)).json()
    [kept] = [d for d in listed if d["id"] == received.json()["quarantine_id"]]
    assert kept["reason"] == "unmappable"
    assert kept["body"] == "data.json=%7Bnot-json"
