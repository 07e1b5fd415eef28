"""What leaves routing after an assignment: Standard Webhooks deliveries that a third-party
verifier accepts, retried until accepted, and the lead's owner written back into HubSpot or
Salesforce, retried through their rate limits and errors until exactly one update lands."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from prometheus_client import REGISTRY

from services.routing import crm_sync, outbound, webhook_delivery
from services.routing.crm_clients import HubSpotConnector, SalesforceConnector
from services.routing.main import create_app
from services.routing.models import Assignment
from services.routing.outbound_schemas import CrmIdentityPut, WebhookCreate
from services.routing.settings import RoutingSettings
from services.routing.worker_outbound import CrmSyncWorker, WebhookDeliveryWorker
from shared.auth import Role
from shared.contracts import LeadAssigned, LeadAssignedPayload, utc_now
from shared.db import Database
from shared.workers import PeriodicWorker
from tests.conftest import Infra, bearer
from tests.integration.test_routing_api import assert_problem
from tests.outbound_fakes import (
    HUBSPOT_RATE_LIMITED,
    HUBSPOT_SERVER_ERROR,
    SALESFORCE_INVALID_SESSION,
    SALESFORCE_LIMIT_EXCEEDED,
    SALESFORCE_SERVER_ERROR,
    HubSpot,
    Receiver,
    Salesforce,
    serving,
)
from tests.routing_support import add_rep, assign, publish, qualified, routing_app
from tests.support import running_app

ADMIN = bearer(Role.ADMIN)
MANAGER = bearer(Role.MANAGER)


def assigned_event(assignment: Assignment, rep_id: uuid.UUID | None = None) -> LeadAssigned:
    """The `lead.assigned` routing published for `assignment` (to `rep_id` after a hand-over)."""
    payload = LeadAssignedPayload(
        assignment_id=assignment.id,
        rep_id=rep_id or assignment.rep_id,
        rep_name="rep",
        strategy=assignment.strategy,
        sla_tier=assignment.sla_tier,
        sla_due_at=assignment.sla_due_at,
        assigned_at=assignment.assigned_at,
        qualified_at=assignment.qualified_at,
    )
    return LeadAssigned.new(lead_id=assignment.lead_id, producer="routing", payload=payload)


async def send_out(db: Database, event: LeadAssigned) -> int:
    async with db.transaction() as session:
        return await outbound.send_event_out(session, event=event)


async def subscribe(db: Database, url: str, **fields: Any) -> tuple[uuid.UUID, str]:
    async with db.transaction() as session:
        created = await webhook_delivery.subscribe(
            session,
            subscription=WebhookCreate.model_validate(
                {"url": url, "event_types": ["lead.assigned"], **fields}
            ),
            at=utc_now(),
        )
    return created.id, created.secret


async def set_crm_user(db: Database, rep_id: uuid.UUID, crm: str, crm_user_id: str) -> None:
    async with db.transaction() as session:
        await crm_sync.set_rep_identity(
            session,
            rep_id=rep_id,
            identity=CrmIdentityPut(crm=crm, crm_user_id=crm_user_id),
            at=utc_now(),
        )


async def run_until(worker: PeriodicWorker, done: Any, *, passes: int = 200) -> None:
    """Run the worker's passes (as its loop would, a little apart) until `done()` holds."""
    for _ in range(passes):
        await worker.run_once()
        if done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the worker never got there")


@asynccontextmanager
async def webhook_worker(db: Database, *, max_attempts: int = 5) -> AsyncIterator[WebhookDeliveryWorker]:
    worker = WebhookDeliveryWorker(
        db, interval_s=3600, timeout_s=5, max_attempts=max_attempts, backoff_s=0.01
    )
    try:
        yield worker
    finally:
        await worker.client.aclose()


def admin_app() -> Any:
    """Routing's API without its consumer; its background loops pass once at start, then sleep."""
    settings = RoutingSettings(worker_interval_s=3600, webhook_interval_s=3600)
    return running_app(create_app(settings), consume=False)


class TestWebhookSubscriptions:
    async def test_admin_subscribes_lists_and_deletes_and_the_secret_is_shown_once(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with admin_app() as client:
            created = await client.post(
                "/v1/webhooks",
                json={
                    "url": "https://tools.example.com/hook",
                    "event_types": ["lead.assigned", "sla.breached"],
                },
                headers=ADMIN,
            )
            assert created.status_code == 201, created.text
            body = created.json()
            assert body["secret"].startswith("whsec_")
            listed = (await client.get("/v1/webhooks", headers=ADMIN)).json()
            assert [w["id"] for w in listed] == [body["id"]]
            assert "secret" not in listed[0]
            assert (await client.delete(f"/v1/webhooks/{body['id']}", headers=ADMIN)).status_code == 204
            assert_problem(
                await client.get(f"/v1/webhooks/{body['id']}", headers=ADMIN), 404, "webhook-not-found"
            )

    async def test_unknown_event_types_and_non_admins_are_refused(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with admin_app() as client:
            bad = await client.post(
                "/v1/webhooks",
                json={"url": "https://x.example.com", "event_types": ["lead.eaten"]},
                headers=ADMIN,
            )
            assert_problem(bad, 422)
            good = {"url": "https://x.example.com", "event_types": ["lead.assigned"]}
            assert_problem(await client.post("/v1/webhooks", json=good, headers=MANAGER), 403)
            assert (await client.get("/v1/webhooks", headers=ADMIN)).json() == []


class TestWebhookDelivery:
    async def test_a_delivery_verifies_with_the_standard_webhooks_library(self, db: Database) -> None:
        rep = await add_rep(db, "ada")
        receiver = Receiver(secrets=[])
        async with serving(receiver.app()) as base, webhook_worker(db) as worker:
            _, secret = await subscribe(db, f"{base}/hook")
            receiver.secrets.append(secret)
            assignment = await assign(db, qualified())
            event = assigned_event(assignment)
            assert await send_out(db, event) == 1
            assert await send_out(db, event) == 1  # a redelivered event queues nothing new
            await run_until(worker, lambda: receiver.accepted)
        (accepted,) = receiver.accepted
        assert accepted["type"] == "lead.assigned"
        assert accepted["data"]["rep_id"] == str(rep)
        assert accepted["data"]["lead_id"] == str(assignment.lead_id)
        assert accepted["data"]["lead"]["email"] == f"{assignment.lead_id}@example.com"

    async def test_a_receiver_failing_twice_gets_exactly_one_accepted_delivery(
        self, db: Database, settings_env: Infra
    ) -> None:
        await add_rep(db, "ada")
        receiver = Receiver(secrets=[], script=[500, 500])
        async with serving(receiver.app()) as base, webhook_worker(db) as worker, admin_app() as client:
            subscription_id, secret = await subscribe(db, f"{base}/hook")
            receiver.secrets.append(secret)
            await send_out(db, assigned_event(await assign(db, qualified())))
            await run_until(worker, lambda: receiver.accepted)
            for _ in range(3):  # nothing more is sent once accepted
                await worker.run_once()
            deliveries = (
                await client.get(f"/v1/webhooks/{subscription_id}/deliveries", headers=ADMIN)
            ).json()
        assert (receiver.calls, len(receiver.accepted)) == (3, 1)
        (delivery,) = deliveries
        assert receiver.ids == [delivery["id"]]
        assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)
        assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 204]

    async def test_a_dead_delivery_is_resent_with_the_same_id(
        self, db: Database, settings_env: Infra
    ) -> None:
        await add_rep(db, "ada")
        receiver = Receiver(secrets=[], script=[503])
        async with (
            serving(receiver.app()) as base,
            webhook_worker(db, max_attempts=1) as worker,
            admin_app() as client,
        ):
            subscription_id, secret = await subscribe(db, f"{base}/hook")
            receiver.secrets.append(secret)
            await send_out(db, assigned_event(await assign(db, qualified())))
            await worker.run_once()
            url = f"/v1/webhooks/{subscription_id}/deliveries"
            (dead,) = (await client.get(url, params={"status": "dead"}, headers=ADMIN)).json()
            resent = await client.post(f"{url}/{dead['id']}/resend", headers=ADMIN)
            assert resent.status_code == 202, resent.text
            await run_until(worker, lambda: receiver.accepted)
            (delivered,) = (await client.get(url, headers=ADMIN)).json()
            missing = await client.post(f"{url}/{uuid.uuid4()}/resend", headers=ADMIN)
        assert receiver.ids == [dead["id"]]
        assert delivered["status"] == "delivered"
        assert [a["status_code"] for a in delivered["attempt_log"]] == [503, 204]
        assert_problem(missing, 404, "webhook-delivery-not-found")

    async def test_during_a_rotation_the_old_and_the_new_secret_both_verify(
        self, db: Database, settings_env: Infra
    ) -> None:
        await add_rep(db, "ada")
        old_receiver, new_receiver = Receiver(secrets=[]), Receiver(secrets=[])
        async with (
            serving(old_receiver.app()) as old_base,
            serving(new_receiver.app()) as new_base,
            webhook_worker(db) as worker,
            admin_app() as client,
        ):
            old_id, old_secret = await subscribe(db, f"{old_base}/hook")
            new_id, _ = await subscribe(db, f"{new_base}/hook")
            old_receiver.secrets.append(old_secret)
            rotated = await client.post(
                f"/v1/webhooks/{new_id}/rotate-secret", json={"overlap_seconds": 3600}, headers=ADMIN
            )
            assert rotated.status_code == 200, rotated.text
            new_receiver.secrets.append(rotated.json()["secret"])
            # The first subscription's receiver still holds only the secret from before a rotation.
            await client.post(
                f"/v1/webhooks/{old_id}/rotate-secret", json={"overlap_seconds": 3600}, headers=ADMIN
            )
            await send_out(db, assigned_event(await assign(db, qualified())))
            await run_until(worker, lambda: old_receiver.accepted and new_receiver.accepted)
            # Without overlap the old secret stops signing at once.
            await client.post(
                f"/v1/webhooks/{old_id}/rotate-secret", json={"overlap_seconds": 0}, headers=ADMIN
            )
            old_receiver.secrets.append("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")
            await send_out(db, assigned_event(await assign(db, qualified())))
            await run_until(worker, lambda: old_receiver.rejected)
        assert (len(old_receiver.accepted), len(new_receiver.accepted)) == (1, 2)

    async def test_a_subscription_for_some_reps_hears_only_their_leads(self, db: Database) -> None:
        ada, bob = await add_rep(db, "ada"), await add_rep(db, "bob")
        await subscribe(db, "https://tools.example.com/hook", rep_ids=[str(bob)])
        assignment = await assign(db, qualified())
        queued = {rep: await send_out(db, assigned_event(assignment, rep_id=rep)) for rep in (ada, bob)}
        assert queued == {ada: 0, bob: 1}


async def crm_worker(
    db: Database, connector: Any, client: httpx.AsyncClient, *, max_attempts: int = 10
) -> CrmSyncWorker:
    return CrmSyncWorker(
        db, connector=connector, client=client, interval_s=3600, max_attempts=max_attempts, backoff_s=0.01
    )


def crm_metric(crm: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("baton_routing_crm_sync_total", {"crm": crm, "outcome": outcome}) or 0.0


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
            worker = await crm_worker(db, connector, http, max_attempts=2)
            for _ in range(10):
                await worker.run_once()
                await asyncio.sleep(0.02)
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


class TestThroughTheBroker:
    async def test_a_qualified_lead_reaches_the_webhook_and_the_crm_owner(
        self, db: Database, settings_env: Infra
    ) -> None:
        receiver, hubspot = Receiver(secrets=[]), HubSpot()
        async with serving(receiver.app()) as hook_base, serving(hubspot.app()) as crm_base:
            settings = RoutingSettings(
                webhook_interval_s=0.05,
                crm_interval_s=0.05,
                crm_provider="hubspot",
                crm_base_url=crm_base,
                crm_token=hubspot.token,
            )
            async with routing_app(db, settings) as client:
                rep = await add_rep(db, "ada")
                put = await client.put(
                    f"/v1/crm/reps/{rep}", json={"crm": "hubspot", "crm_user_id": "83017465"}, headers=MANAGER
                )
                assert put.status_code == 200, put.text
                created = await client.post(
                    "/v1/webhooks",
                    json={"url": f"{hook_base}/hook", "event_types": ["lead.assigned"]},
                    headers=ADMIN,
                )
                receiver.secrets.append(created.json()["secret"])
                event = qualified()
                await publish(settings_env.kafka_bootstrap_servers, event)
                for _ in range(300):
                    if receiver.accepted and hubspot.owner_updates:
                        break
                    await asyncio.sleep(0.05)
        (accepted,) = receiver.accepted
        assert (accepted["data"]["lead_id"], accepted["data"]["rep_id"]) == (str(event.lead_id), str(rep))
        assert [owner for _, owner in hubspot.owner_updates] == ["83017465"]


class TestSendEventsOutInBatches:
    async def test_a_batch_has_the_effect_of_its_events_one_at_a_time(self, db: Database) -> None:
        ada, bob = await add_rep(db, "ada"), await add_rep(db, "bob")
        await set_crm_user(db, ada, "hubspot", "1001")
        await set_crm_user(db, bob, "hubspot", "2002")
        await subscribe(db, "https://tools.example.com/all")
        await subscribe(db, "https://tools.example.com/bob", rep_ids=[str(bob)])
        first, second = await assign(db, qualified()), await assign(db, qualified())
        batch = [assigned_event(first, ada), assigned_event(second, ada), assigned_event(first, bob)]
        async with db.transaction() as session:
            queued = await outbound.send_events_out(session, events=batch)
            syncs = await crm_sync.list_syncs(session, state=None, lead_id=None, limit=10)
        assert queued == 4  # three to the catch-all subscription, bob's hand-over to his own
        owners = {(s.lead_id, s.crm_user_id) for s in syncs}
        assert owners == {(first.lead_id, "2002"), (second.lead_id, "1001")}
