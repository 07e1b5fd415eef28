"""The CRM owner write-back: the lead's owner written into HubSpot or Salesforce (local fakes
speaking their documented shapes), retried through their rate limits and errors until exactly
one update lands, visible while it fails, and forgotten when the lead is erased."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text

from services.routing import crm_sync, service
from services.routing.crm_clients import HubSpotConnector, SalesforceConnector
from shared.contracts import LeadErased, LeadErasedPayload, utc_now
from shared.db import Database
from tests.conftest import Infra
from tests.integration.test_routing_api import assert_problem
from tests.support.outbound import (
    MANAGER,
    admin_app,
    assigned_event,
    crm_metric,
    crm_worker,
    run_until,
    send_out,
    set_crm_user,
    subscribe,
)
from tests.support.outbound_fakes import (
    HUBSPOT_RATE_LIMITED,
    HUBSPOT_SERVER_ERROR,
    SALESFORCE_INVALID_SESSION,
    SALESFORCE_LIMIT_EXCEEDED,
    SALESFORCE_SERVER_ERROR,
    HubSpot,
    Salesforce,
    serving,
)
from tests.support.routing import add_rep, assign, qualified


class TestCrmOwnerSync:
    async def test_hubspot_gets_the_contact_created_and_the_reps_owner_id_set(self, db: Database) -> None:
        ada = await add_rep(db, "ada")
        await set_crm_user(db, ada, "hubspot", "83017465")
        hubspot = HubSpot()
        async with serving(hubspot.app()) as base, httpx.AsyncClient() as http:
            connector = HubSpotConnector(http, base_url=base, token=hubspot.token)
            assignment = await assign(db, qualified())
            await send_out(db, assigned_event(assignment))
            worker = await crm_worker(db, connector, http)
            await run_until(worker, lambda: hubspot.owner_updates)
        ((contact_id, owner),) = hubspot.owner_updates
        assert owner == "83017465"
        assert hubspot.contacts[contact_id]["email"] == f"{assignment.lead_id}@example.com"
        async with db.transaction() as session:
            (sync,) = await crm_sync.list_syncs(session, state=None, lead_id=assignment.lead_id, limit=10)
        assert (sync.state, sync.record_id, sync.crm_user_id) == ("synced", contact_id, "83017465")

    async def test_hubspot_answering_429_then_500_still_ends_with_exactly_one_update(
        self, db: Database, settings_env: Infra
    ) -> None:
        ada = await add_rep(db, "ada")
        await set_crm_user(db, ada, "hubspot", "83017465")
        assignment = await assign(db, qualified())
        hubspot = HubSpot(failures=[(429, HUBSPOT_RATE_LIMITED), (500, HUBSPOT_SERVER_ERROR)])
        hubspot.contacts["777"] = {"email": f"{assignment.lead_id}@example.com"}
        failed_before = crm_metric("hubspot", "failed")
        async with serving(hubspot.app()) as base, httpx.AsyncClient() as http, admin_app() as client:
            worker = await crm_worker(db, HubSpotConnector(http, base_url=base, token=hubspot.token), http)
            await send_out(db, assigned_event(assignment))
            await worker.run_once()
            failed = (await client.get("/v1/crm/syncs", params={"state": "failed"}, headers=MANAGER)).json()
            await run_until(worker, lambda: hubspot.owner_updates)
            for _ in range(3):
                await worker.run_once()
            synced = (
                await client.get(
                    "/v1/crm/syncs", params={"lead_id": str(assignment.lead_id)}, headers=MANAGER
                )
            ).json()
        assert hubspot.owner_updates == [("777", "83017465")]
        assert hubspot.calls.count("search") == 1  # the record id found first is kept across retries
        assert "create" not in hubspot.calls
        (first,) = failed
        assert "RATE_LIMIT" in first["last_error"]
        assert first["record_id"] == "777"
        assert (synced[0]["state"], synced[0]["attempts"]) == ("synced", 3)
        assert crm_metric("hubspot", "failed") - failed_before == 2

    async def test_salesforce_sets_owner_id_through_its_limit_and_session_errors(self, db: Database) -> None:
        ada = await add_rep(db, "ada")
        await set_crm_user(db, ada, "salesforce", "005Dn000001ZQhLIAW")
        assignment = await assign(db, qualified())
        salesforce = Salesforce(
            failures=[
                (403, SALESFORCE_LIMIT_EXCEEDED),
                (401, SALESFORCE_INVALID_SESSION),
                (500, SALESFORCE_SERVER_ERROR),
            ]
        )
        salesforce.leads["00Q5e00000AbCdEEAZ"] = {"Email": f"{assignment.lead_id}@example.com"}
        async with serving(salesforce.app()) as base, httpx.AsyncClient() as http:
            connector = SalesforceConnector(http, base_url=base, token=salesforce.token, api_version="v62.0")
            await send_out(db, assigned_event(assignment))
            await run_until(await crm_worker(db, connector, http), lambda: salesforce.owner_updates)
        assert salesforce.owner_updates == [("00Q5e00000AbCdEEAZ", "005Dn000001ZQhLIAW")]
        assert salesforce.queries == [
            f"SELECT Id FROM Lead WHERE Email = '{assignment.lead_id}@example.com' ORDER BY CreatedDate LIMIT 1"
        ]

    async def test_a_sync_out_of_attempts_is_dead_and_listed_with_the_crms_error(
        self, db: Database, settings_env: Infra
    ) -> None:
        ada = await add_rep(db, "ada")
        await set_crm_user(db, ada, "salesforce", "005Dn000001ZQhLIAW")
        salesforce = Salesforce(failures=[(403, SALESFORCE_LIMIT_EXCEEDED)] * 2)
        async with serving(salesforce.app()) as base, httpx.AsyncClient() as http, admin_app() as client:
            connector = SalesforceConnector(http, base_url=base, token=salesforce.token, api_version="v62.0")
            await send_out(db, assigned_event(await assign(db, qualified())))
            # Both attempts used: the pass that met the second failure recorded the sync dead.
            await run_until(
                await crm_worker(db, connector, http, max_attempts=2), lambda: not salesforce.failures
            )
            dead = (await client.get("/v1/crm/syncs", params={"state": "dead"}, headers=MANAGER)).json()
        assert salesforce.owner_updates == []
        (sync,) = dead
        assert sync["last_error"] == "HTTP 403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."
        assert sync["record_id"] is not None  # created before the update failed; a retry reuses it

    async def test_a_hubspot_contact_not_yet_searchable_is_taken_from_the_409_not_duplicated(
        self, db: Database
    ) -> None:
        ada = await add_rep(db, "ada")
        await set_crm_user(db, ada, "hubspot", "83017465")
        assignment = await assign(db, qualified())
        hubspot = HubSpot(unindexed={"612"})
        hubspot.contacts["612"] = {"email": f"{assignment.lead_id}@example.com"}
        async with serving(hubspot.app()) as base, httpx.AsyncClient() as http:
            worker = await crm_worker(db, HubSpotConnector(http, base_url=base, token=hubspot.token), http)
            await send_out(db, assigned_event(assignment))
            await run_until(worker, lambda: hubspot.owner_updates)
        assert hubspot.owner_updates == [("612", "83017465")]
        assert list(hubspot.contacts) == ["612"]

    async def test_a_dead_sync_is_retried_on_request_and_lands(
        self, db: Database, settings_env: Infra
    ) -> None:
        ada = await add_rep(db, "ada")
        await set_crm_user(db, ada, "salesforce", "005Dn000001ZQhLIAW")
        salesforce = Salesforce(failures=[(401, SALESFORCE_INVALID_SESSION)])
        assignment = await assign(db, qualified())
        async with serving(salesforce.app()) as base, httpx.AsyncClient() as http, admin_app() as client:
            connector = SalesforceConnector(http, base_url=base, token=salesforce.token, api_version="v62.0")
            worker = await crm_worker(db, connector, http, max_attempts=1)
            await send_out(db, assigned_event(assignment))
            await worker.run_once()
            url = f"/v1/crm/syncs/{assignment.lead_id}/retry"
            retried = await client.post(url, headers=MANAGER)
            assert retried.status_code == 202, retried.text
            assert [s["state"] for s in retried.json()] == ["pending"]
            await run_until(worker, lambda: salesforce.owner_updates)
            again = await client.post(url, headers=MANAGER)
        assert len(salesforce.owner_updates) == 1
        assert_problem(again, 409, "crm-sync-not-retryable")

    async def test_a_new_holder_requeues_the_sync_with_their_crm_user_id(self, db: Database) -> None:
        ada, bob = await add_rep(db, "ada"), await add_rep(db, "bob")
        await set_crm_user(db, ada, "hubspot", "1001")
        await set_crm_user(db, bob, "hubspot", "2002")
        hubspot = HubSpot()
        assignment = await assign(db, qualified())
        async with serving(hubspot.app()) as base, httpx.AsyncClient() as http:
            worker = await crm_worker(db, HubSpotConnector(http, base_url=base, token=hubspot.token), http)
            await send_out(db, assigned_event(assignment, rep_id=ada))
            await run_until(worker, lambda: hubspot.owner_updates)
            await send_out(db, assigned_event(assignment, rep_id=bob))
            await run_until(worker, lambda: len(hubspot.owner_updates) == 2)
        assert [owner for _, owner in hubspot.owner_updates] == ["1001", "2002"]
        assert hubspot.calls.count("create") == 1

    async def test_setting_a_crm_user_id_for_an_unknown_rep_is_a_404(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with admin_app() as client:
            missing = await client.put(
                f"/v1/crm/reps/{uuid.uuid4()}", json={"crm": "hubspot", "crm_user_id": "1"}, headers=MANAGER
            )
            bad = await client.put(
                f"/v1/crm/reps/{uuid.uuid4()}", json={"crm": "pipedrive", "crm_user_id": "1"}, headers=MANAGER
            )
        assert_problem(missing, 404, "rep-not-found")
        assert_problem(bad, 422)


class TestErasure:
    async def test_an_erased_lead_leaves_the_outbound_rows_and_nothing_pending_is_sent(
        self, db: Database
    ) -> None:
        ada = await add_rep(db, "ada")
        await set_crm_user(db, ada, "hubspot", "83017465")
        await subscribe(db, "https://tools.example.com/hook")
        assignment = await assign(db, qualified())
        await send_out(db, assigned_event(assignment))
        erased = LeadErased.new(
            lead_id=assignment.lead_id,
            producer="ingest",
            payload=LeadErasedPayload(reason="request", erased_at=utc_now()),
        )
        async with db.transaction() as session:
            await service.erase_lead(session, event=erased)
        async with db.transaction() as session:
            rows = await session.execute(
                text(
                    "SELECT d.status, d.body, s.state, s.lead::text FROM routing.webhook_delivery d,"
                    " routing.crm_sync s WHERE d.lead_id = :id AND s.lead_id = :id"
                ),
                {"id": assignment.lead_id},
            )
            ((status, body, state, lead),) = rows.all()
        assert (status, state) == ("dead", "dead")
        assert "@example.com" not in body + lead
