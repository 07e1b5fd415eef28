"""No secret or personal data in the logs, checked on what a real `baton up` wrote.

A scripted run through real processes: a form post carrying an email and a phone number, the
same person refused with a 422, signed webhooks (Typeform, HubSpot) and Unbounce's token in
the URL, a wrong Unbounce token, bearer tokens (valid, forged, in the dashboard's `?token=`),
a source's API key and a wrong one. Once the lead is assigned, `baton up` is stopped (every
log flushed) and every log file and the launcher's output are searched for each raw value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from bench.system import SERVICES, RunningBaton
from shared.auth import Role, issue_token
from tests.support.baton import running_baton

WEBHOOK_SECRETS = {
    "BATON_TYPEFORM_SECRET": "typeform-" + secrets.token_hex(16),
    "BATON_HUBSPOT_CLIENT_SECRET": "hubspot-" + secrets.token_hex(16),
    "BATON_UNBOUNCE_TOKEN": "unbounce-" + secrets.token_hex(16),
}


@pytest.fixture(scope="module")
def baton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBaton]:
    with running_baton(tmp_path_factory.mktemp("baton-home"), partitions=1, env=WEBHOOK_SECRETS) as running:
        yield running


def sign(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def typeform_delivery(email: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "event_id": uuid.uuid4().hex,
            "event_type": "form_response",
            "form_response": {
                "form_id": "lT4Z3j",
                "token": uuid.uuid4().hex,
                "submitted_at": "2026-11-23T09:30:00Z",
                "definition": {"id": "lT4Z3j", "title": "Demo", "fields": []},
                "answers": [
                    {"type": "email", "email": email, "field": {"id": "a", "type": "email", "ref": "email"}}
                ],
            },
        }
    ).encode()
    signature = base64.b64encode(sign(WEBHOOK_SECRETS["BATON_TYPEFORM_SECRET"], body)).decode()
    return body, {"Typeform-Signature": f"sha256={signature}", "content-type": "application/json"}


def hubspot_delivery(url: str, email: str, phone: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "submittedAt": 1700000000000,
            "fields": [
                {"objectTypeId": "0-1", "name": "email", "value": email},
                {"objectTypeId": "0-1", "name": "phone", "value": phone},
            ],
            "context": {"pageUri": "https://www.example.com/demo", "pageName": "Demo"},
        }
    ).encode()
    timestamp = str(int(time.time() * 1000))
    message = b"POST" + url.encode() + body + timestamp.encode()
    signature = base64.b64encode(sign(WEBHOOK_SECRETS["BATON_HUBSPOT_CLIENT_SECRET"], message)).decode()
    headers = {
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": timestamp,
        "content-type": "application/json",
    }
    return body, headers


def scripted_run(baton: RunningBaton) -> dict[str, str]:
    """Drive the system with sensitive values; returns them by name, to be searched for."""
    tag = uuid.uuid4().hex[:10]
    email = f"grace-{tag}@hopper.example"
    phone_raw, phone_national = "+44 20 7946 0958", "020 7946 0958"
    forged = issue_token("forged-" + "q" * 40, role=Role.ADMIN, subject="intruder")
    manager, admin = baton.local["tokens"]["manager"], baton.local["tokens"]["admin"]
    ingest = baton.url("ingest")
    unbounce = WEBHOOK_SECRETS["BATON_UNBOUNCE_TOKEN"]
    with httpx.Client(timeout=15) as http:
        form = f"{ingest}/v1/forms/demo-request/submissions"
        person = {"email": email, "first_name": "Grace", "company": "Hopper Labs", "job_title": "CTO"}
        accepted = http.post(
            form, data={**person, "phone": phone_raw, "company_size": "250", "country": "GB"}
        )
        assert accepted.status_code == 202, accepted.text
        refused = http.post(form, data={**person, "phone": phone_national, "company_size": "many"})
        assert refused.status_code == 422, refused.text

        body, headers = typeform_delivery(f"tf-{tag}@hopper.example")
        assert http.post(f"{ingest}/v1/webhooks/typeform", content=body, headers=headers).status_code == 200
        hubspot_url = f"{ingest}/v1/webhooks/hubspot?formGuid=demo"
        body, headers = hubspot_delivery(hubspot_url, f"hs-{tag}@hopper.example", phone_raw)
        assert http.post(hubspot_url, content=body, headers=headers).status_code == 200, body
        unbounce_form = {"data.json": json.dumps({"email": [f"ub-{tag}@hopper.example"]}), "page_id": "p"}
        good = http.post(f"{ingest}/v1/webhooks/unbounce?token={unbounce}", content=urlencode(unbounce_form))
        assert good.status_code == 200, good.text
        wrong_token = "guess-" + secrets.token_hex(12)
        bad = http.post(
            f"{ingest}/v1/webhooks/unbounce?token={wrong_token}", content=urlencode(unbounce_form)
        )
        assert bad.status_code == 401

        source = http.post(
            f"{ingest}/v1/sources",
            json={"id": f"site-{tag}", "name": "Website"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert source.status_code == 201, source.text
        api_key = source.json()["api_key"]
        activity = {
            "events": [{"type": "page_view", "email": email, "url": "https://www.example.com/pricing"}]
        }
        assert (
            http.post(f"{ingest}/v1/events", json=activity, headers={"X-Api-Key": api_key}).status_code == 200
        )
        wrong_key = "bk_" + secrets.token_hex(20)
        assert (
            http.post(f"{ingest}/v1/events", json=activity, headers={"X-Api-Key": wrong_key}).status_code
            == 401
        )

        lead = accepted.json()["lead_id"]
        as_manager = {"Authorization": f"Bearer {manager}"}
        deadline = time.monotonic() + 60
        while (
            http.get(f"{baton.url('routing')}/v1/leads/{lead}/assignment", headers=as_manager).status_code
            != 200
        ):
            assert time.monotonic() < deadline, "the lead was never assigned"
            time.sleep(0.2)
        assert (
            http.get(f"{baton.url('scoring')}/v1/leads/{lead}/score", headers=as_manager).status_code == 200
        )
        dashboard = http.get(
            f"{baton.url('feedback')}/dashboard", params={"token": manager}, follow_redirects=True
        )
        assert dashboard.status_code == 200
        forged_answer = http.get(
            f"{baton.url('feedback')}/v1/funnel", headers={"Authorization": f"Bearer {forged}"}
        )
        assert forged_answer.status_code == 401
    return {
        "email": email,
        "email local part": email.split("@")[0],
        "phone as posted": phone_raw,
        "phone national": phone_national,
        "phone digits": "2079460958",
        "manager token": manager,
        "admin token": admin,
        "forged token": forged,
        "manager token signature": manager.rsplit(".", 1)[1],
        "api key": api_key,
        "wrong api key": wrong_key,
        "unbounce token": unbounce,
        "wrong unbounce token": wrong_token,
        "typeform secret": WEBHOOK_SECRETS["BATON_TYPEFORM_SECRET"],
        "hubspot secret": WEBHOOK_SECRETS["BATON_HUBSPOT_CLIENT_SECRET"],
        "jwt secret": (baton.home / "jwt_secret").read_text().strip(),
    }


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_no_secret_or_personal_data_reaches_the_logs(baton: RunningBaton) -> None:
    sensitive = scripted_run(baton)
    assert baton.stop() == 0
    logs: list[Path] = [baton.output, *sorted((baton.home / "logs").glob("*.log"))]
    for service in SERVICES:
        assert (baton.home / "logs" / f"{service}.log").stat().st_size > 0, f"{service} wrote no log"
    leaks = [
        f"{what} in {path.name}: ...{line.strip()[:300]}"
        for path in logs
        for line in path.read_text(errors="replace").splitlines()
        for what, value in sensitive.items()
        if value.lower() in line.lower()
    ]
    assert not leaks, "\n".join(leaks)
