"""Routing's HTTP API: reps, queues and dispositions, with their errors as problem details."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from services.routing.models import Disposition, outbox
from shared.auth import Role
from shared.contracts import decode_event, utc_now
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.events import read_topic
from tests.support.routing import assign, qualified, routing_app

MANAGER = bearer(Role.MANAGER)
ADMIN = bearer(Role.ADMIN)


async def create_rep(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "email": f"{name.lower()}@example.com", **fields}
    response = await client.post("/v1/reps", json=body, headers=MANAGER)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def assign_fresh(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    """Assign a fresh lead; returns (assignment id, rep id)."""
    assignment = await assign(db, qualified(sla_minutes=60))
    return assignment.id, assignment.rep_id


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    if slug is not None:
        assert problem["type"].endswith("/" + slug), problem
    return problem


class TestReps:
    async def test_manager_adds_and_lists_reps(self, db: Database, settings_env: Infra) -> None:
        async with routing_app(db) as client:
            ada = await create_rep(
                client,
                "Ada",
                weight=2,
                timezone="Europe/London",
                working_hours={"start": "09:00", "end": "17:30", "days": [0, 1, 2, 3, 4]},
                max_open=10,
            )
            listed = await client.get("/v1/reps", headers=bearer(Role.REP, rep_id=uuid.uuid4()))
        assert listed.status_code == 200
        assert [r["id"] for r in listed.json()] == [ada["id"]]
        assert ada["working_hours"]["end"] == "17:30:00"
        assert (ada["weight"], ada["assigned"], ada["active"]) == (2, 0, True)

    async def test_duplicate_email_is_a_conflict(self, db: Database, settings_env: Infra) -> None:
        async with routing_app(db) as client:
            await create_rep(client, "Grace")
            again = await client.post(
                "/v1/reps", json={"name": "Grace H", "email": "GRACE@example.com"}, headers=ADMIN
            )
        assert_problem(again, 409, "rep-email-taken")

    async def test_only_managers_and_admins_manage_reps(self, db: Database, settings_env: Infra) -> None:
        async with routing_app(db) as client:
            as_rep = await client.post(
                "/v1/reps",
                json={"name": "Eve", "email": "eve@example.com"},
                headers=bearer(Role.REP, rep_id=uuid.uuid4()),
            )
            anonymous = await client.get("/v1/reps")
        assert_problem(as_rep, 403)
        assert_problem(anonymous, 401)

    async def test_invalid_rep_fields_are_field_errors(self, db: Database, settings_env: Infra) -> None:
        async with routing_app(db) as client:
            response = await client.post(
                "/v1/reps",
                json={"name": "Tz", "email": "tz@example.com", "weight": 0, "timezone": "Mars/Olympus"},
                headers=MANAGER,
            )
        problem = assert_problem(response, 422)
        assert {e["loc"][-1] for e in problem["errors"]} == {"weight", "timezone"}

    async def test_patch_switches_a_rep_off_and_changes_weight(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            rep = await create_rep(client, "Linus")
            patched = await client.patch(
                f"/v1/reps/{rep['id']}", json={"active": False, "weight": 3}, headers=MANAGER
            )
            missing = await client.patch(f"/v1/reps/{uuid.uuid4()}", json={"active": True}, headers=MANAGER)
        assert patched.status_code == 200, patched.text
        assert (patched.json()["active"], patched.json()["weight"]) == (False, 3)
        assert_problem(missing, 404, "rep-not-found")

    async def test_rep_who_joins_late_gets_no_catch_up_burst(self, db: Database, settings_env: Infra) -> None:
        async with routing_app(db) as client:
            await create_rep(client, "First")
            await create_rep(client, "Second")
            for _ in range(6):
                await assign_fresh(db)
            late = await create_rep(client, "Late")
            chosen = [(await assign_fresh(db))[1] for _ in range(3)]
        assert chosen.count(uuid.UUID(late["id"])) == 1


class TestRepSelfService:
    async def test_a_rep_switches_themselves_off_but_not_their_weight_or_a_colleague(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            me = await create_rep(client, "Self")
            colleague = await create_rep(client, "Colleague")
            as_me = bearer(Role.REP, rep_id=uuid.UUID(me["id"]))
            off = await client.patch(
                f"/v1/reps/{me['id']}",
                json={"active": False, "working_hours": {"start": "08:00", "end": "16:00"}},
                headers=as_me,
            )
            weight = await client.patch(f"/v1/reps/{me['id']}", json={"weight": 5}, headers=as_me)
            other = await client.patch(f"/v1/reps/{colleague['id']}", json={"active": False}, headers=as_me)
        assert off.status_code == 200, off.text
        assert off.json()["active"] is False
        assert_problem(weight, 403, "rep-self-service-only")
        assert_problem(other, 403, "rep-self-service-only")


class TestAbsences:
    async def test_rep_away_gets_no_leads_and_the_trace_says_so(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            away = await create_rep(client, "Away")
            here = await create_rep(client, "Here")
            as_away = bearer(Role.REP, rep_id=uuid.UUID(away["id"]))
            now = utc_now()
            booked = await client.post(
                f"/v1/reps/{away['id']}/absences",
                json={
                    "starts_at": (now - timedelta(hours=1)).isoformat(),
                    "ends_at": (now + timedelta(days=7)).isoformat(),
                    "note": "holiday",
                },
                headers=as_away,
            )
            backwards = await client.post(
                f"/v1/reps/{away['id']}/absences",
                json={"starts_at": now.isoformat(), "ends_at": (now - timedelta(days=1)).isoformat()},
                headers=as_away,
            )
            for_colleague = await client.post(
                f"/v1/reps/{here['id']}/absences",
                json={"starts_at": now.isoformat(), "ends_at": (now + timedelta(days=1)).isoformat()},
                headers=as_away,
            )
            chosen = [await assign_fresh(db) for _ in range(2)]
            listed = await client.get(f"/v1/reps/{away['id']}/absences", headers=MANAGER)
            removed = await client.delete(
                f"/v1/reps/{away['id']}/absences/{booked.json()['id']}", headers=as_away
            )
            gone = await client.delete(
                f"/v1/reps/{away['id']}/absences/{booked.json()['id']}", headers=MANAGER
            )
            lead = await client.get(f"/v1/reps/{here['id']}/queue", headers=MANAGER)
        assert booked.status_code == 201, booked.text
        assert_problem(backwards, 422)
        assert_problem(for_colleague, 403, "rep-self-service-only")
        assert {str(rep_id) for _, rep_id in chosen} == {here["id"]}
        assert lead.json()[0]["decision"]["skipped"] == [{"rep_id": away["id"], "reason": "away"}]
        assert [a["note"] for a in listed.json()] == ["holiday"]
        assert removed.status_code == 204
        assert_problem(gone, 404, "absence-not-found")


class TestRepQueue:
    async def test_a_rep_reads_their_own_queue_and_nobody_elses(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            alice = await create_rep(client, "Alice")
            bob = await create_rep(client, "Bob")
            assignments = [await assign_fresh(db) for _ in range(4)]
            as_alice = bearer(Role.REP, rep_id=uuid.UUID(alice["id"]))
            own = await client.get(f"/v1/reps/{alice['id']}/queue", headers=as_alice)
            other = await client.get(f"/v1/reps/{bob['id']}/queue", headers=as_alice)
            by_manager = await client.get(f"/v1/reps/{bob['id']}/queue", headers=MANAGER)
            unknown = await client.get(f"/v1/reps/{uuid.uuid4()}/queue", headers=MANAGER)
            bad_status = await client.get(f"/v1/reps/{bob['id']}/queue?status=pending", headers=MANAGER)
            bobs_lead = next(a for a, r in assignments if str(r) == bob["id"])
            lead_id = next(a["lead_id"] for a in by_manager.json() if a["id"] == str(bobs_lead))
            peek = await client.get(f"/v1/leads/{lead_id}/assignment", headers=as_alice)

        assert own.status_code == 200
        assert {a["rep_id"] for a in own.json()} == {alice["id"]}
        assert len(own.json()) == 2
        assert_problem(other, 403, "not-your-assignment")
        assert len(by_manager.json()) == 2
        assert_problem(unknown, 404, "rep-not-found")
        assert_problem(bad_status, 422)
        assert_problem(peek, 403, "not-your-assignment")


class TestRecordDisposition:
    async def test_a_lead_goes_from_accepted_to_won(self, db: Database, settings_env: Infra) -> None:
        async with routing_app(db) as client:
            await create_rep(client, "Closer")
            assignment_id, rep_id = await assign_fresh(db)
            as_rep = bearer(Role.REP, rep_id=rep_id)
            url = f"/v1/assignments/{assignment_id}/disposition"
            accepted = await client.post(url, json={"outcome": "accepted"}, headers=as_rep)
            sql = await client.post(url, json={"outcome": "sql"}, headers=as_rep)
            won = await client.post(url, json={"outcome": "won", "amount": "12500.00"}, headers=MANAGER)
            queue = await client.get(f"/v1/reps/{rep_id}/queue?status=won", headers=as_rep)

        assert [r.status_code for r in (accepted, sql, won)] == [201, 201, 201]
        assert won.json()["amount"] == "12500.00"
        (closed,) = queue.json()
        assert closed["status"] == "won"
        # Dispositions are no touches: accepting a lead is not contacting it.
        assert closed["first_touch_at"] is None
        async with db.transaction() as session:
            history = await session.scalar(
                select(func.count())
                .select_from(Disposition)
                .where(Disposition.assignment_id == assignment_id)
            )
            staged = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.event_type == "lead.dispositioned")
            )
        assert (history, staged) == (3, 3)

        won_event_id = won.json()["event_id"]
        records = await read_topic(
            settings_env.kafka_bootstrap_servers,
            "lead.dispositioned",
            until=lambda rs: any(decode_event(r.value).event_id == uuid.UUID(won_event_id) for r in rs),
        )
        event = next(
            decode_event(r.value)
            for r in records
            if decode_event(r.value).event_id == uuid.UUID(won_event_id)
        )
        assert event.payload.outcome == "won"  # type: ignore[union-attr]

    async def test_rejection_without_a_reason_is_unprocessable(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            await create_rep(client, "Picky")
            assignment_id, _ = await assign_fresh(db)
            url = f"/v1/assignments/{assignment_id}/disposition"
            no_reason = await client.post(url, json={"outcome": "rejected"}, headers=MANAGER)
            amount_on_accept = await client.post(
                url, json={"outcome": "accepted", "amount": 5}, headers=MANAGER
            )
            unknown_outcome = await client.post(url, json={"outcome": "maybe"}, headers=MANAGER)
            with_reason = await client.post(
                url, json={"outcome": "rejected", "reason_code": "not_our_icp"}, headers=MANAGER
            )
        assert_problem(no_reason, 422, "disposition-invalid")
        assert_problem(amount_on_accept, 422, "disposition-invalid")
        assert_problem(unknown_outcome, 422, "validation-failed")
        assert with_reason.status_code == 201

    async def test_illegal_transitions_are_conflicts_naming_the_allowed_states(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            await create_rep(client, "Hasty")
            assignment_id, _ = await assign_fresh(db)
            url = f"/v1/assignments/{assignment_id}/disposition"
            early_win = await client.post(url, json={"outcome": "won"}, headers=MANAGER)
            await client.post(url, json={"outcome": "accepted"}, headers=MANAGER)
            await client.post(url, json={"outcome": "lost", "note": "went dark"}, headers=MANAGER)
            after_lost = await client.post(url, json={"outcome": "sql"}, headers=MANAGER)
        problem = assert_problem(early_win, 409, "illegal-transition")
        assert problem["allowed"] == ["accepted", "recycled", "rejected"]
        assert assert_problem(after_lost, 409, "illegal-transition")["allowed"] == []

    async def test_only_the_assigned_rep_may_record_an_outcome(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            await create_rep(client, "Owner")
            assignment_id, _ = await assign_fresh(db)
            url = f"/v1/assignments/{assignment_id}/disposition"
            stranger = await client.post(
                url, json={"outcome": "accepted"}, headers=bearer(Role.REP, rep_id=uuid.uuid4())
            )
            marketing = await client.post(url, json={"outcome": "accepted"}, headers=bearer(Role.MARKETING))
            missing = await client.post(
                f"/v1/assignments/{uuid.uuid4()}/disposition", json={"outcome": "accepted"}, headers=MANAGER
            )
        assert_problem(stranger, 403, "not-your-assignment")
        assert_problem(marketing, 403, "forbidden")
        assert_problem(missing, 404, "assignment-not-found")


class TestLogTouch:
    async def test_first_touch_stops_the_clock_and_keeps_the_status(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            await create_rep(client, "Caller")
            assignment_id, rep_id = await assign_fresh(db)
            as_rep = bearer(Role.REP, rep_id=rep_id)
            url = f"/v1/assignments/{assignment_id}/touches"
            first = await client.post(url, json={"channel": "call", "note": "voicemail"}, headers=as_rep)
            second = await client.post(url, json={"channel": "email"}, headers=as_rep)
            stranger = await client.post(
                url, json={"channel": "call"}, headers=bearer(Role.REP, rep_id=uuid.uuid4())
            )
            bad_channel = await client.post(url, json={"channel": "pigeon"}, headers=as_rep)
            await client.post(
                f"/v1/assignments/{assignment_id}/disposition",
                json={"outcome": "rejected", "reason_code": "student"},
                headers=as_rep,
            )
            after_close = await client.post(url, json={"channel": "call"}, headers=as_rep)
        assert first.status_code == second.status_code == 201
        assert first.json()["status"] == "open"
        assert first.json()["first_touch_at"] is not None
        assert second.json()["first_touch_at"] == first.json()["first_touch_at"]
        assert_problem(stranger, 403, "not-your-assignment")
        assert_problem(bad_channel, 422)
        assert_problem(after_close, 409, "illegal-transition")
        async with db.transaction() as session:
            staged = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.event_type == "lead.touched")
            )
        assert staged == 2
