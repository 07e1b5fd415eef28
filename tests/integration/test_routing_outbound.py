"""Outbound webhooks: Standard Webhooks deliveries that a third-party verifier accepts,
retried with backoff until accepted, listed with their attempts, resent, signed by two secrets
during a rotation; and the whole path from a qualified lead on the broker."""

from __future__ import annotations

import asyncio
import uuid

from services.routing import crm_sync, outbound, webhook_delivery
from services.routing.settings import RoutingSettings
from shared.contracts import utc_now
from shared.db import Database
from tests.conftest import Infra
from tests.integration.test_routing_api import assert_problem
from tests.support.events import publish
from tests.support.outbound import (
    ADMIN,
    MANAGER,
    admin_app,
    assigned_event,
    run_until,
    send_out,
    set_crm_user,
    subscribe,
    webhook_worker,
)
from tests.support.outbound_fakes import (
    HubSpot,
    Receiver,
    serving,
)
from tests.support.routing import add_rep, assign, qualified, routing_app


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

    async def test_a_round_records_every_outcome_in_one_go_and_skips_a_delivery_unsubscribed_in_flight(
        self, db: Database, settings_env: Infra
    ) -> None:
        await add_rep(db, "ada")
        receiver = Receiver(secrets=[])
        async with serving(receiver.app()) as base, webhook_worker(db) as worker:
            kept, kept_secret = await subscribe(db, f"{base}/hook")
            dropped, dropped_secret = await subscribe(db, f"{base}/hook")
            receiver.secrets += [kept_secret, dropped_secret]
            await send_out(db, assigned_event(await assign(db, qualified())))
            async with db.transaction() as session:
                claimed = await worker.claim(session, now=utc_now())
            sent = [(row, await worker.send(row)) for row in claimed]
            async with db.transaction() as session:
                await webhook_delivery.unsubscribe(session, subscription_id=dropped)
            async with db.transaction() as session:
                assert await worker.record_all(session, sent) == 1
            async with db.transaction() as session:
                (delivery,) = await webhook_delivery.list_deliveries(
                    session, subscription_id=kept, status=None, limit=10
                )
        assert len(receiver.accepted) == 2
        assert (delivery.status, delivery.attempts, len(delivery.attempt_log)) == ("delivered", 1, 1)

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
