"""A rep sees and changes only their own leads, queue and calendar; a refusal changes nothing.

`tests/integration/test_routing_api.py` checks the queue, the lead lookup, dispositions and
touches one at a time; this sweeps every routing route a rep could aim at a colleague, plus
the manager-only ones, then checks the colleague's assignment, absences and standing unchanged.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from services.routing.models import Assignment, Disposition, Rep, RepAbsence, Touch
from shared.auth import Role
from shared.contracts import utc_now
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.integration.test_routing_api import MANAGER, assert_problem, assign_fresh, create_rep
from tests.support.routing import routing_app


async def test_a_rep_can_neither_see_nor_change_a_colleagues_work(db: Database, settings_env: Infra) -> None:
    async with routing_app(db) as client:
        alice = await create_rep(client, "Alice")
        bob = await create_rep(client, "Bob")
        assignments = [await assign_fresh(db) for _ in range(2)]
        bobs = next(a for a, rep in assignments if str(rep) == bob["id"])
        queue = (await client.get(f"/v1/reps/{bob['id']}/queue", headers=MANAGER)).json()
        bobs_lead = next(a["lead_id"] for a in queue if a["id"] == str(bobs))
        start = utc_now() + timedelta(days=3)
        window = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(days=1)).isoformat()}
        absence = await client.post(f"/v1/reps/{bob['id']}/absences", json=window, headers=MANAGER)
        assert absence.status_code == 201, absence.text

        as_alice = bearer(Role.REP, rep_id=uuid.UUID(alice["id"]))
        reps = f"/v1/reps/{bob['id']}"
        attempts = {
            "read queue": await client.get(f"{reps}/queue", headers=as_alice),
            "read lead": await client.get(f"/v1/leads/{bobs_lead}/assignment", headers=as_alice),
            "disposition": await client.post(
                f"/v1/assignments/{bobs}/disposition",
                json={"outcome": "rejected", "reason": "x"},
                headers=as_alice,
            ),
            "touch": await client.post(
                f"/v1/assignments/{bobs}/touches", json={"channel": "call"}, headers=as_alice
            ),
            "read absences": await client.get(f"{reps}/absences", headers=as_alice),
            "book absence": await client.post(f"{reps}/absences", json=window, headers=as_alice),
            "cancel absence": await client.delete(
                f"{reps}/absences/{absence.json()['id']}", headers=as_alice
            ),
            "switch off": await client.patch(reps, json={"active": False}, headers=as_alice),
        }
        manager_only = {
            "add rep": await client.post(
                "/v1/reps", json={"name": "Mallory", "email": "mallory@example.com"}, headers=as_alice
            ),
            "declare holiday": await client.put("/v1/holidays/2026-12-24", json={}, headers=as_alice),
            "preview": await client.post("/v1/routing/preview", json={}, headers=as_alice),
        }
        no_rep_id = await client.get(f"{reps}/queue", headers=bearer(Role.REP))

    for label, response in attempts.items():
        assert response.status_code == 403, f"{label}: {response.status_code} {response.text}"
        assert_problem(response, 403)
    for label, response in manager_only.items():
        assert response.status_code == 403, f"{label}: {response.status_code} {response.text}"
        assert_problem(response, 403, "forbidden")
    assert_problem(no_rep_id, 403)
    async with db.transaction() as session:
        assignment = await session.get(Assignment, bobs)
        assert assignment is not None
        assert (assignment.status, assignment.first_touch_at) == ("open", None)
        for model in (Disposition, Touch):
            assert await session.scalar(select(func.count()).select_from(model)) == 0
        assert await session.scalar(select(func.count()).select_from(RepAbsence)) == 1
        bob_now = await session.get(Rep, uuid.UUID(bob["id"]))
        assert bob_now is not None
        assert bob_now.active
