"""SLA timers, escalation, the fallback-queue retry and the routing preview, on the real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from services.routing import dispositions, sla
from services.routing.access import ANYONE, Actor
from services.routing.assignment import assign_lead, sla_due_at_for
from services.routing.fallback_queue import retry_fallback_queue
from services.routing.main import create_app
from services.routing.models import Assignment, Rep, SlaTimer, outbox
from services.routing.policy import SlaPolicy
from services.routing.schemas import DispositionCreate, TouchCreate
from shared.auth import Role
from shared.contracts import (
    SlaBreached,
    decode_event,
    utc_now,
)
from shared.db import Database
from tests.conftest import Infra, bearer, truncate_all
from tests.support.apps import running_app
from tests.support.routing import RULES, add_rep, assign, qualified, routing_app
from tests.support.waiting import eventually

MANAGER = bearer(Role.MANAGER)


async def fire(db: Database, *, max_reassignments: int = 1, limit: int = 100) -> tuple[int, int]:
    """Fire due timers once; returns (timers fired, breaches)."""
    policy = SlaPolicy(reminder_fractions=(), max_reassignments=max_reassignments)
    async with db.transaction() as session:
        fired = await sla.fire_due_sla_timers(session, rules=RULES, now=utc_now(), limit=limit, policy=policy)
    return fired.timers, fired.breaches


async def reload(db: Database, assignment_id: uuid.UUID) -> Assignment:
    async with db.transaction() as session:
        assignment = await session.get(Assignment, assignment_id)
    assert assignment is not None
    return assignment


class TestFireDueSlaTimers:
    async def test_breached_lead_is_marked_once_and_handed_to_the_next_rep(self, db: Database) -> None:
        reps = {await add_rep(db, "first"), await add_rep(db, "second")}
        event = qualified(sla_minutes=0)
        original = await assign(db, event)
        first = original.rep_id
        (second,) = reps - {first}

        assert await fire(db) == (1, 1)

        after = await reload(db, original.id)
        assert after.rep_id == second
        assert after.sla_breached_at is not None
        assert after.reassignments == 1
        (escalation,) = after.decision["escalations"]
        assert (escalation["from_rep"], escalation["to_rep"]) == (str(first), str(second))
        async with db.transaction() as session:
            announced = await session.scalar(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.key == str(event.lead_id), outbox.c.event_type == "lead.assigned")
            )
            timers = (await session.execute(select(SlaTimer.rep_id, SlaTimer.outcome))).all()
            breach_values = (
                (
                    await session.execute(
                        select(outbox.c.value).where(
                            outbox.c.key == str(event.lead_id), outbox.c.event_type == "sla.breached"
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert announced == 2
        assert sorted(timers, key=str) == sorted([(first, "breached"), (second, None)], key=str)
        (breach,) = [decode_event(value) for value in breach_values]
        assert isinstance(breach, SlaBreached)
        assert (breach.payload.rep_id, breach.payload.reassigned_to) == (first, second)
        assert breach.payload.assignment_id == original.id

    async def test_the_reassigned_rep_breaching_too_keeps_the_lead(self, db: Database) -> None:
        await add_rep(db, "first")
        await add_rep(db, "second")
        original = await assign(db, qualified(sla_minutes=0))
        first = original.rep_id
        await fire(db)
        assert await fire(db) == (1, 1)
        after = await reload(db, original.id)
        assert after.reassignments == 1
        assert after.rep_id != first
        assert [e["to_rep"] for e in after.decision["escalations"]] == [str(after.rep_id), None]
        assert await fire(db) == (0, 0)

    async def test_a_touched_lead_does_not_breach_and_its_timer_is_cancelled(self, db: Database) -> None:
        rep = await add_rep(db, "prompt")
        assignment = await assign(db, qualified(sla_minutes=0))
        async with db.transaction() as session:
            await dispositions.log_touch(
                session,
                assignment_id=assignment.id,
                touch=TouchCreate(channel="call"),
                actor=Actor(rep_id=rep),
            )
        assert await fire(db) == (0, 0)
        assert (await reload(db, assignment.id)).sla_breached_at is None
        async with db.transaction() as session:
            outcomes = (await session.execute(select(SlaTimer.outcome))).scalars().all()
        assert outcomes == ["cancelled"]

    async def test_accepting_is_no_touch_so_an_accepted_lead_nobody_touched_breaches(
        self, db: Database
    ) -> None:
        rep = await add_rep(db, "clicker")
        assignment = await assign(db, qualified(sla_minutes=0))
        async with db.transaction() as session:
            await dispositions.record_disposition(
                session,
                assignment_id=assignment.id,
                disposition=DispositionCreate(outcome="accepted"),
                actor=Actor(rep_id=rep),
                recorded_by="test",
                default_currency="EUR",
            )
        assert (await reload(db, assignment.id)).first_touch_at is None
        assert await fire(db) == (1, 1)
        assert (await reload(db, assignment.id)).sla_breached_at is not None

    async def test_lone_rep_keeps_a_breached_lead(self, db: Database) -> None:
        rep = await add_rep(db, "alone")
        assignment = await assign(db, qualified(sla_minutes=0))
        assert await fire(db) == (1, 1)
        after = await reload(db, assignment.id)
        assert after.rep_id == rep
        assert after.decision["escalations"][0]["to_rep"] is None

    async def test_concurrent_scanners_fire_each_timer_exactly_once(self, db: Database) -> None:
        await add_rep(db, "a")
        await add_rep(db, "b")
        for _ in range(30):
            await assign(db, qualified(sla_minutes=0))
        results = await asyncio.gather(*(fire(db, max_reassignments=0, limit=7) for _ in range(6)))
        while sum(r[0] for r in results) < 30:
            results.append(await fire(db, max_reassignments=0, limit=7))
        assert sum(r[1] for r in results) == 30
        async with db.transaction() as session:
            breached = await session.scalar(
                select(func.count()).select_from(Assignment).where(Assignment.sla_breached_at.is_not(None))
            )
        assert breached == 30


class TestFallbackRetry:
    async def test_queued_lead_is_assigned_once_capacity_frees_up(self, db: Database) -> None:
        rep = await add_rep(db, "busy", max_open=1)
        first = await assign(db, qualified(sla_minutes=60))
        waiting = qualified(sla_minutes=60)
        async with db.transaction() as session:
            outcome = await assign_lead(session, rules=RULES, event=waiting)
        assert outcome.result == "queued"
        async with db.transaction() as session:
            assert await retry_fallback_queue(session, rules=RULES) == 0
            await dispositions.record_disposition(
                session,
                assignment_id=first.id,
                disposition=DispositionCreate(outcome="accepted"),
                actor=ANYONE,
                recorded_by="manager",
                default_currency="EUR",
            )
        async with db.transaction() as session:
            assert await retry_fallback_queue(session, rules=RULES) == 1
            later = await session.scalar(select(Assignment).where(Assignment.lead_id == waiting.lead_id))
        assert later is not None
        assert later.rep_id == rep


class TestWorkerInTheApp:
    async def test_running_app_marks_breaches_on_its_own(self, db: Database, settings_env: Infra) -> None:
        # The worker is under test, not the consumer: the app runs without it, so it neither waits
        # on nor disturbs the routing group's rebalances on the shared test broker.
        async with running_app(create_app(), consume=False) as client:
            await truncate_all(db)
            await add_rep(db, "slow")
            assignment = await assign(db, qualified(sla_minutes=0))

            async def breached() -> None:
                response = await client.get(f"/v1/leads/{assignment.lead_id}/assignment", headers=MANAGER)
                assert response.json()["sla_breached_at"] is not None

            await eventually(breached, timeout_s=45)


class TestPreview:
    async def test_preview_explains_the_choice_and_assigns_nothing(
        self, db: Database, settings_env: Infra
    ) -> None:
        sunday_noon = datetime(2026, 11, 29, 11, 0, tzinfo=UTC).isoformat()
        async with routing_app(db) as client:
            day = await add_rep(
                db, "day", timezone="Europe/Berlin", working_hours={"start": "09:00", "end": "17:00"}
            )
            anytime = await add_rep(db, "anytime")
            response = await client.post("/v1/routing/preview", json={"at": sunday_noon}, headers=MANAGER)
            as_rep = await client.post(
                "/v1/routing/preview", json={}, headers=bearer(Role.REP, rep_id=anytime)
            )
        assert response.status_code == 200, response.text
        preview = response.json()
        assert preview["chosen"] == str(anytime)
        assert preview["chosen_name"] == "anytime"
        assert preview["skipped"] == [{"rep_id": str(day), "rep_name": "day", "reason": "outside_hours"}]
        assert [r["rep_name"] for r in preview["eligible"]] == ["anytime"]
        assert (preview["queued"], preview["queue"]) == (False, None)
        assert preview["outcome"] == f"Rule {preview['rule']!r} gives this lead to anytime."
        assert as_rep.status_code == 403
        async with db.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(Assignment)) == 0

    async def test_an_assignments_own_lead_snapshot_can_be_pasted_in(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            await add_rep(db, "solo")
            assignment = await assign(db)
            read = await client.get(f"/v1/leads/{assignment.lead_id}/assignment", headers=MANAGER)
            snapshot = read.json()["lead"]
            response = await client.post("/v1/routing/preview", json={"lead": snapshot}, headers=MANAGER)
        assert "email" in snapshot
        assert response.status_code == 200, response.text
        assert response.json()["chosen_name"] == "solo"

    async def test_a_lead_nobody_can_take_is_said_to_wait_in_the_fallback_queue(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            off = await add_rep(db, "off", active=False)
            response = await client.post("/v1/routing/preview", json={}, headers=MANAGER)
        assert response.status_code == 200, response.text
        preview = response.json()
        assert preview["chosen"] is None
        assert preview["skipped"] == [{"rep_id": str(off), "rep_name": "off", "reason": "inactive"}]
        assert preview["queued"] is True
        queue = preview["queue"]
        assert queue == preview["pool"]
        assert f"would wait in the {queue} fallback queue" in preview["outcome"]
        async with db.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(Assignment)) == 0


class TestBusinessTimeClock:
    async def test_weekend_and_declared_holiday_stop_the_sla_clock(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            rep_id = await add_rep(
                db, "nyc", timezone="America/New_York", working_hours={"start": "09:00", "end": "17:00"}
            )
            put = await client.put("/v1/holidays/2026-11-30", json={"name": "Company day"}, headers=MANAGER)
            again = await client.put(
                "/v1/holidays/2026-11-30", json={"name": "Company day off"}, headers=MANAGER
            )
            listed = await client.get("/v1/holidays", headers=MANAGER)
            as_rep = await client.put(
                "/v1/holidays/2026-12-01", json={"name": "Mine"}, headers=bearer(Role.REP, rep_id=rep_id)
            )
            missing = await client.delete("/v1/holidays/2026-12-02", headers=MANAGER)
        assert put.status_code == again.status_code == 200
        assert listed.json() == [{"day": "2026-11-30", "name": "Company day off"}]
        assert as_rep.status_code == 403
        assert missing.status_code == 404

        friday_1650_local = datetime(2026, 11, 27, 21, 50, tzinfo=UTC)
        async with db.transaction() as session:
            rep = await session.get(Rep, rep_id)
            assert rep is not None
            due = await sla_due_at_for(session, rep=rep, start=friday_1650_local, minutes=20)
        # Ten minutes on Friday, then Saturday, Sunday and the Monday holiday pass: Tuesday 09:10.
        assert due == datetime(2026, 12, 1, 14, 10, tzinfo=UTC)
