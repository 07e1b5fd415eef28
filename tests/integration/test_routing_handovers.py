"""A lead changing hands: a rep declines it, a manager reassigns it, an SLA breach escalates it.
Each re-route asks the lead's own rule again, restarts the clock and emits `lead.assigned`."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from services.routing import reps, sla
from services.routing.fallback_queue import retry_fallback_queue
from services.routing.main import create_app
from services.routing.models import Assignment, SlaTimer, UnassignedLead, outbox
from services.routing.policy import SlaPolicy
from services.routing.schemas import RepUpdate
from services.routing.settings import RoutingSettings
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.integration.test_routing_api import assert_problem
from tests.integration.test_routing_rules import activate, assigned, qualified
from tests.support.apps import running_app
from tests.support.routing import RULES, add_rep

MANAGER = bearer(Role.MANAGER)

# Europe goes to ada and bob; everyone else to cy and dee. The catch-all never sees a French lead.
TERRITORIES: dict[str, Any] = {
    "name": "Territories",
    "pools": [
        {"id": "emea", "members": [{"rep": "ada@example.com"}, {"rep": "bob@example.com"}]},
        {"id": "everyone", "members": [{"rep": "cy@example.com"}, {"rep": "dee@example.com"}]},
    ],
    "rules": [
        {
            "id": "europe",
            "when": [{"field": "region", "op": "equals", "value": "emea"}],
            "action": {"type": "pool", "pool": "emea"},
        },
        {"id": "rest", "action": {"type": "pool", "pool": "everyone"}},
    ],
}


async def territories(db: Database, *, manager: uuid.UUID | None = None) -> dict[str, uuid.UUID]:
    ids = {name: await add_rep(db, name, manager_id=manager) for name in ("ada", "bob", "cy", "dee")}
    await activate(db, TERRITORIES)
    return ids


async def french_lead(db: Database) -> Assignment:
    """A lead of the `europe` rule, its reminders planned (so the app's worker, which plans them
    under a lock, never races the test for its timers)."""
    lead = await assigned(db, qualified(country="FR"))
    async with db.transaction() as session:
        await sla.plan_reminders(session, fractions=(0.5,), limit=100)
    return lead


def app() -> FastAPI:
    """Routing without its consumer, its worker run once at start and then not for the test."""
    return create_app(RoutingSettings(worker_interval_s=3600))


async def reload(db: Database, assignment_id: uuid.UUID) -> Assignment:
    async with db.transaction() as session:
        found = await session.get(Assignment, assignment_id)
    assert found is not None
    return found


async def timers(db: Database, assignment_id: uuid.UUID) -> list[SlaTimer]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(SlaTimer).where(SlaTimer.assignment_id == assignment_id).order_by(SlaTimer.due_at)
        )
        return list(rows.scalars().all())


async def assigned_events(db: Database, lead_id: uuid.UUID) -> list[dict[str, Any]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(outbox.c.value)
            .where(outbox.c.event_type == "lead.assigned", outbox.c.key == str(lead_id))
            .order_by(outbox.c.id)
        )
        return [dict(json.loads(row[0])["payload"]) for row in rows.all()]


def other(ids: dict[str, uuid.UUID], rep_id: uuid.UUID) -> uuid.UUID:
    return ids["bob"] if rep_id == ids["ada"] else ids["ada"]


async def post(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    return await client.post(url, json=body, headers=headers)


class TestDecline:
    async def test_a_declined_lead_goes_to_the_other_rep_of_its_rules_pool_with_a_fresh_clock(
        self, db: Database, settings_env: Infra
    ) -> None:
        ids = await territories(db)
        lead = await french_lead(db)
        holder = lead.rep_id
        async with running_app(app(), consume=False) as client:
            declined = await post(
                client,
                f"/v1/assignments/{lead.id}/decline",
                {"reason": "I don't speak French"},
                bearer(Role.REP, rep_id=holder),
            )
        assert declined.status_code == 200, declined.text
        body = declined.json()
        assert (body["from_rep_id"], body["to_rep_id"], body["queued"]) == (
            str(holder),
            str(other(ids, holder)),
            False,
        )
        after = await reload(db, lead.id)
        assert (after.rep_id, after.status, after.reassignments) == (other(ids, holder), "open", 1)
        assert after.sla_due_at > lead.sla_due_at
        handover = after.decision["handovers"][-1]
        assert (handover["kind"], handover["rule"], handover["reason"]) == (
            "declined",
            "europe",
            "I don't speak French",
        )
        old, new = [t for t in await timers(db, lead.id) if t.kind == "breach"]
        assert (old.rep_id, old.outcome) == (holder, "cancelled")
        assert (new.rep_id, new.fired_at, new.due_at) == (other(ids, holder), None, after.sla_due_at)
        events = await assigned_events(db, lead.lead_id)
        assert [e["rep_id"] for e in events] == [str(holder), str(other(ids, holder))]

    async def test_with_nobody_else_eligible_the_lead_waits_in_the_fallback_queue_until_someone_is(
        self, db: Database, settings_env: Infra
    ) -> None:
        ids = await territories(db)
        lead = await french_lead(db)
        holder, colleague = lead.rep_id, other(ids, lead.rep_id)
        async with db.transaction() as session:
            await reps.update_rep(
                session, rules=RULES, rep_id=colleague, changes=RepUpdate(active=False), acting_rep=None
            )
        async with running_app(app(), consume=False) as client:
            declined = await post(
                client,
                f"/v1/assignments/{lead.id}/decline",
                {"reason": "on holiday"},
                bearer(Role.REP, rep_id=holder),
            )
        assert declined.status_code == 200, declined.text
        assert (declined.json()["queued"], declined.json()["queue"]) == (True, "emea")
        async with db.transaction() as session:
            waiting = await session.get(UnassignedLead, lead.lead_id)
        assert waiting is not None
        assert waiting.reason == "handed_back"
        assert (await reload(db, lead.id)).status == "queued"
        assert all(t.fired_at is not None for t in await timers(db, lead.id))

        # Switching a rep on drains the fallback queue; the lead does not go back to its decliner.
        async with db.transaction() as session:
            await reps.update_rep(
                session, rules=RULES, rep_id=colleague, changes=RepUpdate(active=True), acting_rep=None
            )
        async with db.transaction() as session:
            assert await retry_fallback_queue(session, rules=RULES) == 0
        after = await reload(db, lead.id)
        assert (after.rep_id, after.status) == (colleague, "open")
        async with db.transaction() as session:
            assert await session.get(UnassignedLead, lead.lead_id) is None

    async def test_only_an_open_lead_is_declined_and_only_by_its_rep(
        self, db: Database, settings_env: Infra
    ) -> None:
        await territories(db)
        lead = await french_lead(db)
        as_holder = bearer(Role.REP, rep_id=lead.rep_id)
        url = f"/v1/assignments/{lead.id}"
        async with running_app(app(), consume=False) as client:
            stranger = await post(
                client, f"{url}/decline", {"reason": "x"}, bearer(Role.REP, rep_id=uuid.uuid4())
            )
            blank = await post(client, f"{url}/decline", {"reason": "  "}, as_holder)
            accepted = await client.post(f"{url}/accept", headers=as_holder)
            too_late = await post(client, f"{url}/decline", {"reason": "changed my mind"}, as_holder)
        assert_problem(stranger, 403, "not-your-assignment")
        assert_problem(blank, 422)
        assert accepted.status_code == 201
        assert accepted.json()["outcome"] == "accepted"
        problem = assert_problem(too_late, 409, "illegal-transition")
        assert (problem["current_status"], problem["allowed"]) == ("accepted", ["open"])


class TestReassign:
    async def test_a_manager_moves_a_lead_to_a_named_rep_of_their_team_only(
        self, db: Database, settings_env: Infra
    ) -> None:
        manager = uuid.uuid4()
        ids = await territories(db, manager=manager)
        outsider = await add_rep(db, "eve")
        lead = await french_lead(db)
        as_manager = bearer(Role.MANAGER, rep_id=manager)
        url = f"/v1/assignments/{lead.id}/reassign"
        async with running_app(app(), consume=False) as client:
            to_outsider = await post(client, url, {"rep_id": str(outsider)}, as_manager)
            moved = await post(client, url, {"rep_id": str(ids["cy"]), "reason": "key account"}, as_manager)
            other_team = await post(
                client, url, {"rep_id": str(ids["dee"])}, bearer(Role.MANAGER, rep_id=uuid.uuid4())
            )
        assert_problem(to_outsider, 403, "not-your-team")
        assert moved.status_code == 200, moved.text
        assert moved.json()["to_rep_id"] == str(ids["cy"])
        assert_problem(other_team, 403, "not-your-team")
        after = await reload(db, lead.id)
        assert (after.rep_id, after.status) == (ids["cy"], "open")
        assert [e["rep_id"] for e in await assigned_events(db, lead.lead_id)] == [
            str(lead.rep_id),
            str(ids["cy"]),
        ]

    async def test_without_a_rep_the_rules_pick_anyone_but_the_holder(
        self, db: Database, settings_env: Infra
    ) -> None:
        ids = await territories(db)
        lead = await french_lead(db)
        async with running_app(app(), consume=False) as client:
            moved = await post(client, f"/v1/assignments/{lead.id}/reassign", {}, MANAGER)
        assert moved.status_code == 200, moved.text
        assert moved.json()["to_rep_id"] == str(other(ids, lead.rep_id))

    async def test_a_rep_reassigns_nothing(self, db: Database, settings_env: Infra) -> None:
        ids = await territories(db)
        lead = await french_lead(db)
        async with running_app(app(), consume=False) as client:
            own = await post(
                client,
                f"/v1/assignments/{lead.id}/reassign",
                {"rep_id": str(ids["cy"])},
                bearer(Role.REP, rep_id=lead.rep_id),
            )
        assert_problem(own, 403, "forbidden")
        assert (await reload(db, lead.id)).rep_id == lead.rep_id


class TestDispositionDetails:
    async def test_codes_notes_currency_and_recycling(self, db: Database, settings_env: Infra) -> None:
        await territories(db)
        rejected, won, recycled = [await french_lead(db) for _ in range(3)]
        async with running_app(app(), consume=False) as client:

            async def disposition(a: Assignment, body: dict[str, Any]) -> httpx.Response:
                return await post(client, f"/v1/assignments/{a.id}/disposition", body, MANAGER)

            no_code = await disposition(rejected, {"outcome": "rejected", "note": "meh"})
            coded = await disposition(
                rejected, {"outcome": "rejected", "reason_code": "no_budget", "note": "Q3"}
            )
            early_win = await disposition(won, {"outcome": "won", "amount": "10.00"})
            await disposition(won, {"outcome": "accepted"})
            await disposition(won, {"outcome": "sql"})
            bad_currency = await disposition(won, {"outcome": "won", "amount": "10.00", "currency": "euro"})
            closed = await disposition(won, {"outcome": "won", "amount": "9000.00"})
            back = await disposition(recycled, {"outcome": "recycled", "note": "not before next year"})
        assert_problem(no_code, 422, "disposition-invalid")
        assert coded.status_code == 201
        assert (coded.json()["reason_code"], coded.json()["reason"], coded.json()["note"]) == (
            "no_budget",
            "Q3",
            "Q3",
        )
        assert assert_problem(early_win, 409, "illegal-transition")["allowed"] == [
            "accepted",
            "recycled",
            "rejected",
        ]
        assert_problem(bad_currency, 422, "validation-failed")
        assert (closed.json()["amount"], closed.json()["currency"]) == ("9000.00", "EUR")
        assert back.status_code == 201
        assert (await reload(db, recycled.id)).status == "recycled"


class TestEscalation:
    async def test_a_breached_lead_goes_to_the_next_rep_of_its_own_rule(self, db: Database) -> None:
        ids = await territories(db)
        lead = await french_lead(db)
        policy = SlaPolicy(reminder_fractions=(), max_reassignments=1, notify_manager=False)
        async with db.transaction() as session:
            fired = await sla.fire_due_sla_timers(
                session, rules=RULES, now=lead.sla_due_at + timedelta(seconds=1), limit=10, policy=policy
            )
        assert fired.breaches == 1
        after = await reload(db, lead.id)
        assert after.rep_id == other(ids, lead.rep_id), "the catch-all pool took the lead"
        assert after.decision["handovers"][-1]["rule"] == "europe"
