"""Drop-in for existing HTML forms: a browser's post is sent on to the thank-you page, an API
client still gets JSON, and the field map reads values written for another system."""

from __future__ import annotations

import uuid

from services.ingest.main import create_app
from shared.contracts import LeadIngested
from shared.db import Database
from tests.conftest import Infra
from tests.support.ingest import configure_form, ingest_client, staged

SITE = "https://www.example.com"
BROWSER_HEADERS = {
    "content-type": "application/x-www-form-urlencoded",
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "origin": SITE,
}


def web_to_lead(email: str, ret_url: str) -> dict[str, str]:
    # The fields of Salesforce's generated Web-to-Lead HTML form, as a browser posts them.
    return {
        "oid": "00D5g000004Xyz1",
        "retURL": ret_url,
        "first_name": "Wendy",
        "last_name": "Weber",
        "email": email,
        "company": "Weber Widgets",
        "city": "Leeds",
        "state": "West Yorkshire",
        "employees": "50-200",
        "emailOptOut": "1",
    }


async def test_a_browser_post_is_sent_on_and_an_api_client_gets_json(
    db: Database, settings_env: Infra
) -> None:
    email = f"wendy-{uuid.uuid4().hex[:8]}@widgets.example"
    async with ingest_client(create_app()) as http:
        await configure_form(
            http,
            "web-to-lead",
            allowed_origins=[SITE],
            success_url=f"{SITE}/thanks",
            allow_return_url=True,
            field_map={"emailOptOut": "consent", "employees": "company_size"},
            value_transforms={"emailOptOut": {"invert": True}, "employees": {"number_range": "midpoint"}},
        )
        posted = await http.post(
            "/v1/forms/web-to-lead/submissions",
            data=web_to_lead(email, f"{SITE}/thank-you?from=w2l"),
            headers=BROWSER_HEADERS,
        )
        assert posted.status_code == 303, posted.text
        assert posted.headers["location"] == f"{SITE}/thank-you?from=w2l"

        elsewhere = await http.post(
            "/v1/forms/web-to-lead/submissions",
            data=web_to_lead(email, "https://attacker.example/phish"),
            headers=BROWSER_HEADERS,
        )
        assert elsewhere.status_code == 303
        assert elsewhere.headers["location"] == f"{SITE}/thanks"

        api = await http.post(
            "/v1/forms/web-to-lead/submissions",
            data=web_to_lead(email, f"{SITE}/thank-you"),
            headers={**BROWSER_HEADERS, "accept": "application/json"},
        )
        assert api.status_code == 202
        assert api.json()["lead_id"]

    mine = [
        e
        for e in await staged(db, "lead.ingested")
        if isinstance(e, LeadIngested) and e.payload.email == email
    ]
    assert len(mine) == 3
    assert {(e.payload.consent, e.payload.company_size) for e in mine} == {(False, 125)}
    assert all("retURL" not in e.payload.attributes for e in mine)
    assert mine[0].payload.attributes["oid"] == "00D5g000004Xyz1"


async def test_without_return_urls_the_success_url_is_used(db: Database, settings_env: Infra) -> None:
    async with ingest_client(create_app()) as http:
        await configure_form(http, "newsletter", success_url=f"{SITE}/subscribed")
        posted = await http.post(
            "/v1/forms/newsletter/submissions",
            data={"email": "nina@example.com", "retURL": "https://anywhere.example/"},
            headers=BROWSER_HEADERS,
        )
    assert posted.status_code == 303
    assert posted.headers["location"] == f"{SITE}/subscribed"


async def test_a_lower_bound_range_reads_the_first_number(db: Database, settings_env: Infra) -> None:
    email = f"lou-{uuid.uuid4().hex[:8]}@example.com"
    async with ingest_client(create_app()) as http:
        await configure_form(
            http,
            "sizes",
            field_map={"headcount": "company_size"},
            value_transforms={"headcount": {"number_range": "lower", "values": {"just me": "1"}}},
        )
        ranged = await http.post("/v1/forms/sizes/submissions", json={"email": email, "headcount": "50-200"})
        tabled = await http.post("/v1/forms/sizes/submissions", json={"email": email, "headcount": "just me"})
    assert ranged.status_code == tabled.status_code == 202
    sizes = {
        str(e.event_id): e.payload.company_size
        for e in await staged(db, "lead.ingested")
        if isinstance(e, LeadIngested) and e.payload.email == email
    }
    assert sizes == {ranged.json()["event_id"]: 50, tabled.json()["event_id"]: 1}
