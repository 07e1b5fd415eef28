"""Lead-to-account: a lead attaches to the account of its company domain; free mail never does."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from services.ingest.main import create_app
from shared.auth import Role
from shared.contracts import LeadIngested
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.ingest import configure_form, ingest_client, staged

MANAGER = bearer(Role.MANAGER)


class TestAccounts:
    async def test_a_work_address_attaches_to_its_account_and_carries_the_owner(
        self, db: Database, settings_env: Infra
    ) -> None:
        owner = uuid.uuid4()
        async with ingest_client(create_app()) as http:
            created = await http.post(
                "/v1/accounts",
                json={"domain": "analytical.example", "name": "Analytical Engines", "owner_id": str(owner)},
                headers=MANAGER,
            )
            await configure_form(http, "contact")
            work = await http.post("/v1/forms/contact/submissions", json={"email": "Ada@Analytical.example"})
            free = await http.post("/v1/forms/contact/submissions", json={"email": "ada@gmail.com"})
            listed = await http.get("/v1/accounts", headers=MANAGER)
            as_rep = await http.get("/v1/accounts", headers=bearer(Role.REP))
        assert created.status_code == 201, created.text
        assert [a["domain"] for a in listed.json()] == ["analytical.example"]
        assert as_rep.status_code == 403
        by_lead = {str(e.lead_id): e for e in await staged(db) if isinstance(e, LeadIngested)}
        attached = by_lead[work.json()["lead_id"]].payload
        assert (attached.account_id, attached.account_owner_id) == (uuid.UUID(created.json()["id"]), owner)
        assert by_lead[free.json()["lead_id"]].payload.account_id is None
        async with db.transaction() as session:
            account_id = await session.scalar(
                text("SELECT account_id FROM ingest.lead WHERE id = :id"), {"id": work.json()["lead_id"]}
            )
        assert str(account_id) == created.json()["id"]

    async def test_an_account_domain_must_look_like_a_domain(self, db: Database, settings_env: Infra) -> None:
        async with ingest_client(create_app()) as http:
            response = await http.post(
                "/v1/accounts", json={"domain": "Not A Domain", "name": "x"}, headers=MANAGER
            )
        assert response.status_code == 422
