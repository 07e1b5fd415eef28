"""The audit trail of ingest and routing: each configuration change and manual action, made by a
real request, is recorded with who, before and after, and holds lead ids, never a lead's data."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from importlib.resources import files
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.ingest.main import create_app as create_ingest_app
from services.ingest.settings import IngestSettings
from shared.auth import Role
from shared.contracts import utc_now
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.integration.test_ingest_quarantine import TOKEN, unbounce_body
from tests.support.ingest import ingest_client
from tests.support.outbound import admin_app, assigned_event, send_out
from tests.support.routing import add_rep, assign, qualified_for_rules

pytestmark = pytest.mark.integration

ADMIN, MANAGER, MARKETING = bearer(Role.ADMIN), bearer(Role.MANAGER), bearer(Role.MARKETING)


async def audit(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    """The trail, oldest first."""
    response = await client.get("/v1/audit", params=params, headers=MANAGER)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return list(reversed(entries))


async def ok(response: Any) -> dict[str, Any]:
    answered: httpx.Response = await response
    assert answered.status_code < 300, answered.text
    return answered.json() if answered.content else {}


def readable_by_managers_only(entries: list[dict[str, Any]], secret_values: list[str]) -> None:
    """No entry holds a lead's personal data or a secret."""
    dumped = json.dumps(entries)
    for value in secret_values:
        assert value not in dumped, value


async def test_ingest_records_forms_sources_accounts_replays_and_erasures(
    db: Database, settings_env: Infra
) -> None:
    form_id, source_id = f"audit-{uuid.uuid4().hex[:8]}", f"src-{uuid.uuid4().hex[:8]}"
    email = f"quinn-{uuid.uuid4().hex[:8]}@quarantine.example"
    async with ingest_client(create_ingest_app(IngestSettings(unbounce_token=TOKEN))) as http:
        await ok(http.post("/v1/forms", json={"id": form_id, "name": "Demo"}, headers=MARKETING))
        await ok(http.post("/v1/forms", json={"id": form_id, "name": "Demo v2"}, headers=MARKETING))
        await ok(http.delete(f"/v1/forms/{form_id}", headers=MARKETING))
        gone = await http.post(f"/v1/forms/{form_id}/submissions", json={"email": "a@b.example"})
        assert gone.status_code == 404, gone.text
        created = await ok(http.post("/v1/sources", json={"id": source_id, "name": "CRM"}, headers=ADMIN))
        await ok(http.delete(f"/v1/sources/{source_id}", headers=ADMIN))
        account = {"domain": f"{uuid.uuid4().hex[:8]}.example", "name": "Acme"}
        await ok(http.post("/v1/accounts", json=account, headers=MANAGER))
        await ok(http.post("/v1/accounts", json={**account, "name": "Acme Inc"}, headers=bearer(Role.SALES)))

        received = await ok(
            http.post(
                f"/v1/webhooks/unbounce?token={TOKEN}",
                content=unbounce_body(email),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
        )
        delivery = received["quarantine_id"]
        fix = {"field_map": {"contact_address": "email"}}
        replayed = await ok(http.post(f"/v1/quarantine/{delivery}/replay", json=fix, headers=MARKETING))
        await ok(http.delete(f"/v1/leads/{replayed['lead_id']}", headers=ADMIN))

        form = await audit(http, object_type="form", object_id=form_id)
        source = await audit(http, object_type="source", object_id=source_id)
        accounts = await audit(http, object_type="account")
        replay = await audit(http, object_type="quarantined_delivery", object_id=delivery)
        erased = await audit(http, object_type="lead", object_id=replayed["lead_id"])
        everything = await audit(http)
        for role in (Role.REP, Role.MARKETING, Role.SALES, Role.SOURCE):
            assert (await http.get("/v1/audit", headers=bearer(role))).status_code == 403, role
        assert (await http.get("/v1/audit", headers=ADMIN)).status_code == 200

    assert [(e["action"], e["actor"]) for e in form] == [
        ("form.created", "test-marketing"),
        ("form.updated", "test-marketing"),
        ("form.deleted", "test-marketing"),
    ]
    assert form[0]["before"] is None
    assert form[0]["after"]["name"] == "Demo"
    assert (form[1]["before"]["name"], form[1]["after"]["name"]) == ("Demo", "Demo v2")
    assert (form[2]["before"]["name"], form[2]["after"]) == ("Demo v2", None)

    assert [(e["action"], e["actor"]) for e in source] == [
        ("source.created", "test-admin"),
        ("source.revoked", "test-admin"),
    ]
    assert source[0]["after"]["key_prefix"] == created["key_prefix"]
    assert source[1]["before"]["revoked_at"] is None
    assert source[1]["after"]["revoked_at"] is not None

    assert [(e["action"], e["actor"]) for e in accounts] == [
        ("account.created", "test-manager"),
        ("account.updated", "test-sales"),
    ]
    assert (accounts[1]["before"]["name"], accounts[1]["after"]["name"]) == ("Acme", "Acme Inc")

    [replay_entry] = replay
    assert (replay_entry["action"], replay_entry["actor"]) == ("quarantine.replayed", "test-marketing")
    assert replay_entry["after"] == {"status": "replayed", "lead_id": replayed["lead_id"], **fix}
    assert [(e["action"], e["actor"]) for e in erased] == [("lead.erased", "test-admin")]
    # The lead is named by its id only; the key itself is never kept.
    readable_by_managers_only(everything, [email, "Quinn", "Quarantine Labs", created["api_key"]])


async def test_a_refused_ingest_change_leaves_no_entry(db: Database, settings_env: Infra) -> None:
    async with ingest_client(create_ingest_app()) as http:
        missing = await http.delete("/v1/sources/nobody", headers=ADMIN)
        assert missing.status_code == 404, missing.text
        refused = await http.post("/v1/forms", json={"id": "x", "name": "X"}, headers=bearer(Role.REP))
        assert refused.status_code == 403, refused.text
        assert await audit(http) == []


def rule_set(version: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        (files("services.routing.rulesets") / "default.yaml").read_text()
    )
    return {**document, "version": version}


async def test_routing_records_reps_holidays_rules_and_webhooks(db: Database, settings_env: Infra) -> None:
    version = f"audit-{uuid.uuid4().hex[:8]}"
    async with admin_app() as client:
        rep = await ok(
            client.post("/v1/reps", json={"name": "Ada", "email": "ada@example.com"}, headers=MANAGER)
        )
        rep_url = f"/v1/reps/{rep['id']}"
        await ok(client.patch(rep_url, json={"weight": 3}, headers=MANAGER))
        await ok(client.patch(rep_url, json={"active": False}, headers=MANAGER))
        async with db.transaction() as session:  # the SLA policy pauses her
            await session.execute(
                text(
                    "UPDATE routing.rep SET paused_at = now(), paused_reason = 'sla_breaches' WHERE id = :id"
                ),
                {"id": rep["id"]},
            )
        await ok(client.patch(rep_url, json={"active": True}, headers=MANAGER))
        starts = utc_now() + timedelta(days=1)
        absence = {"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(days=2)).isoformat()}
        booked = await ok(client.post(f"{rep_url}/absences", json=absence, headers=MANAGER))
        await ok(client.delete(f"{rep_url}/absences/{booked['id']}", headers=MANAGER))

        day = (utc_now() + timedelta(days=30)).date().isoformat()
        await ok(client.put(f"/v1/holidays/{day}", json={"name": "Founders' day"}, headers=MANAGER))
        await ok(client.put(f"/v1/holidays/{day}", json={"name": "Founders' day"}, headers=MANAGER))
        await ok(client.delete(f"/v1/holidays/{day}", headers=MANAGER))

        await ok(client.post("/v1/routing/rules", json=rule_set(version), headers=MANAGER))
        await ok(client.post(f"/v1/routing/rules/{version}/activate", headers=ADMIN))

        hook = {"url": "https://hooks.example.com/baton", "event_types": ["lead.assigned"]}
        subscribed = await ok(client.post("/v1/webhooks", json=hook, headers=ADMIN))
        hook_url = f"/v1/webhooks/{subscribed['id']}"
        rotated = await ok(
            client.post(f"{hook_url}/rotate-secret", json={"overlap_seconds": 60}, headers=ADMIN)
        )
        await ok(client.delete(hook_url, headers=ADMIN))

        reps = await audit(client, object_type="rep", object_id=rep["id"])
        holidays = await audit(client, object_type="holiday", object_id=day)
        rules = await audit(client, object_type="rule_set", object_id=version)
        hooks = await audit(client, object_type="webhook_subscription", object_id=subscribed["id"])
        everything = await audit(client)
        assert (
            await client.get("/v1/audit", headers=bearer(Role.REP, rep_id=uuid.UUID(rep["id"])))
        ).status_code == 403
        assert (await client.get("/v1/audit", headers=ADMIN)).status_code == 200

    assert [(e["action"], e["actor"]) for e in reps] == [
        ("rep.created", "test-manager"),
        ("rep.updated", "test-manager"),
        ("rep.updated", "test-manager"),
        ("rep.resumed", "test-manager"),
        ("absence.added", "test-manager"),
        ("absence.removed", "test-manager"),
    ]
    assert (reps[1]["before"]["weight"], reps[1]["after"]["weight"]) == (1, 3)
    resumed = reps[3]
    assert (resumed["before"]["active"], resumed["before"]["paused_reason"]) == (False, "sla_breaches")
    assert (resumed["after"]["active"], resumed["after"]["paused_reason"]) == (True, None)
    assert reps[4]["after"]["id"] == reps[5]["before"]["id"] == booked["id"]

    assert [(e["action"], e["before"], e["after"]) for e in holidays] == [
        ("holiday.set", None, {"name": "Founders' day"}),  # declared twice, changed once
        ("holiday.removed", {"name": "Founders' day"}, None),
    ]
    assert [(e["action"], e["actor"]) for e in rules] == [
        ("rule_set.drafted", "test-manager"),
        ("rule_set.activated", "test-admin"),
    ]
    assert rules[1]["after"] == {"status": "active", "active_version": version}
    assert [(e["action"], e["actor"]) for e in hooks] == [
        ("webhook.subscribed", "test-admin"),
        ("webhook.secret_rotated", "test-admin"),
        ("webhook.unsubscribed", "test-admin"),
    ]
    assert hooks[1]["before"]["previous_secret_expires_at"] is None
    assert hooks[1]["after"]["previous_secret_expires_at"] is not None
    readable_by_managers_only(everything, [subscribed["secret"], rotated["secret"]])


async def test_routing_records_handovers_crm_identities_and_sync_retries(
    db: Database, settings_env: Infra
) -> None:
    ada = await add_rep(db, "ada")
    lead = qualified_for_rules(email="lena@customer.example", company="Customer Co")
    assignment = await assign(db, lead)
    async with admin_app() as client:
        bob = await ok(
            client.post("/v1/reps", json={"name": "Bob", "email": "bob@example.com"}, headers=MANAGER)
        )
        moved = await ok(
            client.post(
                f"/v1/assignments/{assignment.id}/reassign",
                json={"rep_id": bob["id"], "reason": "Lena asked for Bob"},
                headers=MANAGER,
            )
        )
        bob_token = bearer(Role.REP, rep_id=uuid.UUID(bob["id"]))
        await ok(
            client.post(
                f"/v1/assignments/{assignment.id}/decline", json={"reason": "On leave"}, headers=bob_token
            )
        )
        await ok(
            client.put(f"/v1/crm/reps/{ada}", json={"crm": "hubspot", "crm_user_id": "1001"}, headers=MANAGER)
        )
        await send_out(db, assigned_event(assignment))  # to ada, who has a HubSpot user id
        async with db.transaction() as session:  # the CRM refused it until out of attempts
            await session.execute(
                text("UPDATE routing.crm_sync SET state = 'dead' WHERE lead_id = :id"),
                {"id": assignment.lead_id},
            )
        await ok(client.post(f"/v1/crm/syncs/{assignment.lead_id}/retry", headers=MANAGER))

        handovers = await audit(client, object_type="assignment", object_id=str(assignment.id))
        identity = await audit(client, object_type="rep", object_id=str(ada))
        retried = await audit(client, object_type="crm_sync", object_id=str(assignment.lead_id))
        everything = await audit(client)

    assert [(e["action"], e["actor"]) for e in handovers] == [
        ("assignment.reassigned", "test-manager"),
        ("assignment.declined", "test-rep"),
    ]
    assert handovers[0]["before"]["rep_id"] == str(ada)
    assert handovers[0]["after"]["rep_id"] == bob["id"] == moved["to_rep_id"]
    assert handovers[1]["before"]["rep_id"] == bob["id"]
    assert handovers[0]["after"]["lead_id"] == str(assignment.lead_id)
    assert [(e["action"], e["actor"], e["after"]) for e in identity] == [
        ("rep.created", "system", identity[0]["after"]),  # by the use case, called in-process
        ("crm_identity.set", "test-manager", {"crm": "hubspot", "crm_user_id": "1001"}),
    ]
    assert [(e["action"], e["before"], e["after"]) for e in retried] == [
        ("crm_sync.retried", {"states": {"hubspot": "dead"}}, {"states": {"hubspot": "pending"}})
    ]
    # Ids only: neither the assignment's lead snapshot nor the free-text reasons are copied.
    readable_by_managers_only(everything, ["lena@customer.example", "Customer Co", "Lena asked", "On leave"])


@pytest.mark.parametrize("schema", ["ingest", "routing"])
async def test_the_database_refuses_to_alter_or_erase_an_entry(
    db: Database, settings_env: Infra, schema: str
) -> None:
    async with db.transaction() as session:
        await session.execute(
            text(
                f"INSERT INTO {schema}.audit_entry (at, actor, action, object_type, object_id) "
                "VALUES (now(), 'test-admin', 'form.created', 'form', 'f')"
            )
        )
    for statement in (
        f"UPDATE {schema}.audit_entry SET actor = 'someone-else'",
        f"DELETE FROM {schema}.audit_entry",
    ):
        with pytest.raises(DBAPIError, match="the audit trail is append-only"):
            async with db.transaction() as session:
                await session.execute(text(statement))
    async with db.transaction() as session:
        actors = (await session.execute(text(f"SELECT actor FROM {schema}.audit_entry"))).scalars().all()
    assert actors == ["test-admin"]
