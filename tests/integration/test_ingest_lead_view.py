"""An admin's lead view in ingest: what was stored for a lead, and search by email or phone."""

from __future__ import annotations

import uuid
from typing import Any

from services.ingest.main import create_app
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.ingest import ADMIN, configure_form, ingest_client

MANAGER = bearer(Role.MANAGER)
REP = bearer(Role.REP, rep_id=uuid.uuid4())


async def test_a_lead_with_two_campaigns_shows_both_touches_newest_first(
    db: Database, settings_env: Infra
) -> None:
    email = f"ada-{uuid.uuid4().hex[:8]}@lookup.example"
    async with ingest_client(create_app()) as http:
        await configure_form(http, "lookup-webinar")
        first = await http.post(
            "/v1/forms/lookup-webinar/submissions",
            json={
                "email": email,
                "first_name": "Ada",
                "consent": True,
                "page_url": "https://www.example.com/w?utm_source=linkedin&utm_medium=paid&utm_campaign=spring",
            },
        )
        second = await http.post(
            "/v1/forms/lookup-webinar/submissions",
            json={"email": email, "job_title": "CTO", "utm_campaign": "autumn", "gclid": "Cj0KCQ-2"},
        )
        assert first.status_code == second.status_code == 202, (first.text, second.text)
        lead_id = first.json()["lead_id"]
        response = await http.get(f"/v1/leads/{lead_id}", headers=MANAGER)

    assert response.status_code == 200, response.text
    lead: dict[str, Any] = response.json()
    assert lead["id"] == lead_id
    assert lead["email"] == email
    assert lead["consent"] is True
    assert lead["attributes"]["first_name"] == "Ada"
    assert lead["attributes"]["job_title"] == "CTO"
    assert (lead["first_touch"]["source"], lead["first_touch"]["campaign"]) == ("linkedin", "spring")
    submissions = lead["submissions"]
    assert [s["touch"]["campaign"] for s in submissions] == ["autumn", "spring"]
    assert submissions[0]["touch"]["click_ids"] == {"gclid": "Cj0KCQ-2"}
    assert (submissions[1]["touch"]["source"], submissions[1]["touch"]["medium"]) == ("linkedin", "paid")
    assert all(s["form_id"] == "lookup-webinar" and s["source"] == "form" for s in submissions)
    assert submissions[0]["fields"]["job_title"] == "CTO"
    assert submissions[0]["submitted_at"]
    assert submissions[0]["received_at"]
    assert lead["links"] == {
        "lead": {"service": "ingest", "path": f"/v1/leads/{lead_id}"},
        "score": {"service": "scoring", "path": f"/v1/leads/{lead_id}/score"},
        "assignment": {"service": "routing", "path": f"/v1/leads/{lead_id}/assignment"},
        "brief": {"service": "routing", "path": f"/v1/leads/{lead_id}/brief"},
    }


async def test_search_by_email_finds_any_spelling_of_the_inbox(db: Database, settings_env: Infra) -> None:
    local = f"grace.{uuid.uuid4().hex[:8]}"
    async with ingest_client(create_app()) as http:
        await configure_form(http, "lookup-email")
        posted = await http.post("/v1/forms/lookup-email/submissions", json={"email": f"{local}@gmail.com"})
        assert posted.status_code == 202, posted.text
        found = await http.get(
            "/v1/leads",
            params={"email": f"  {local.replace('.', '').upper()}+promo@GoogleMail.com"},
            headers=ADMIN,
        )
        none = await http.get("/v1/leads", params={"email": "nobody-here@lookup.example"}, headers=ADMIN)

    assert found.status_code == 200, found.text
    assert [(lead["id"], lead["email"]) for lead in found.json()] == [
        (posted.json()["lead_id"], f"{local}@gmail.com")
    ]
    assert found.json()[0]["links"]["score"]["path"] == f"/v1/leads/{posted.json()['lead_id']}/score"
    assert none.status_code == 200
    assert none.json() == []


async def test_search_by_phone_normalizes_as_intake_does(db: Database, settings_env: Infra) -> None:
    subscriber = f"{uuid.uuid4().int % 10_000:04d}"
    async with ingest_client(create_app()) as http:
        await configure_form(http, "lookup-phone")
        posted = await http.post(
            "/v1/forms/lookup-phone/submissions",
            json={"phone": f"+49 30 1234{subscriber}", "first_name": "Lin"},
        )
        assert posted.status_code == 202, posted.text
        international = await http.get(
            "/v1/leads", params={"phone": f"0049 (30) 1234-{subscriber}"}, headers=MANAGER
        )
        national = await http.get(
            "/v1/leads", params={"phone": f"030 1234 {subscriber}", "country": "DE"}, headers=MANAGER
        )

    lead_id = posted.json()["lead_id"]
    assert international.status_code == 200, international.text
    assert [(lead["id"], lead["phone"]) for lead in international.json()] == [
        (lead_id, f"+49301234{subscriber}")
    ]
    assert [lead["id"] for lead in national.json()] == [lead_id]


async def test_unknown_erased_forbidden_and_empty_queries_answer_problems(
    db: Database, settings_env: Infra
) -> None:
    email = f"erased-{uuid.uuid4().hex[:8]}@lookup.example"
    async with ingest_client(create_app()) as http:
        await configure_form(http, "lookup-problems")
        posted = await http.post("/v1/forms/lookup-problems/submissions", json={"email": email})
        lead_id = posted.json()["lead_id"]
        rep_view = await http.get(f"/v1/leads/{lead_id}", headers=REP)
        rep_search = await http.get("/v1/leads", params={"email": email}, headers=REP)
        anonymous = await http.get(f"/v1/leads/{lead_id}")
        unknown = await http.get(f"/v1/leads/{uuid.uuid4()}", headers=ADMIN)
        empty = await http.get("/v1/leads", headers=ADMIN)
        erased = await http.delete(f"/v1/leads/{lead_id}", headers=ADMIN)
        after = await http.get(f"/v1/leads/{lead_id}", headers=ADMIN)
        search_after = await http.get("/v1/leads", params={"email": email}, headers=ADMIN)

    assert rep_view.status_code == rep_search.status_code == 403
    assert "allowed: admin, manager, marketing, sales" in rep_view.json()["detail"]
    assert anonymous.status_code == 401
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert empty.status_code == 422
    assert empty.headers["content-type"].startswith("application/problem+json")
    assert "email" in empty.json()["detail"]
    assert "phone" in empty.json()["detail"]
    assert erased.status_code == 204
    assert after.status_code == 410, after.text
    assert after.json()["title"] == "Lead erased"
    assert email not in after.text
    assert search_after.json() == []
