"""Routing's assignment of qualified leads, against the real database and broker."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, text

from services.routing import reps
from services.routing.assignment import assign_lead
from services.routing.main import create_app
from services.routing.models import Assignment, outbox, processed_event
from services.routing.schemas import RepCreate, RepUpdate
from shared.auth import Role
from shared.contracts import LeadQualified, decode_event, utc_now
from shared.db import Database
from tests.conftest import Infra, bearer, truncate_all
from tests.support.apps import caught_up, running_app
from tests.support.events import publish, read_topic
from tests.support.routing import RULES, add_reps, qualified, routing_app
from tests.support.waiting import eventually

MANAGER = bearer(Role.MANAGER)


async def processed_count(db: Database, event_ids: list[uuid.UUID]) -> int:
    async with db.transaction() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(processed_event)
                .where(processed_event.c.event_id.in_(event_ids))
            )
            or 0
        )


async def assignments_by_lead(db: Database, lead_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(Assignment.lead_id, Assignment.rep_id).where(Assignment.lead_id.in_(lead_ids))
        )
        return dict(rows.all())


class TestAssignLeadFromKafka:
    async def test_qualified_lead_is_assigned_and_announced(self, db: Database, settings_env: Infra) -> None:
        event = qualified(sla_minutes=30)
        async with routing_app(db) as client:
            (rep_id,) = await add_reps(db, 1)
            await publish(settings_env.kafka_bootstrap_servers, event)

            async def assigned() -> None:
                response = await client.get(f"/v1/leads/{event.lead_id}/assignment", headers=MANAGER)
                assert response.status_code == 200, response.text

            await eventually(assigned, timeout_s=30)
            body = (await client.get(f"/v1/leads/{event.lead_id}/assignment", headers=MANAGER)).json()

        assert body["rep_id"] == str(rep_id)
        assert body["status"] == "open"
        assert body["lead"]["email"] == f"{event.lead_id}@example.com"
        assert body["decision"]["chosen"] == str(rep_id)
        qualified_at = event.payload.qualified_at
        assert body["sla_due_at"].startswith((qualified_at + timedelta(minutes=30)).isoformat()[:19])

        records = await read_topic(
            settings_env.kafka_bootstrap_servers,
            "lead.assigned",
            until=lambda rs: any(r.key == str(event.lead_id).encode() for r in rs),
        )
        announced = next(decode_event(r.value) for r in records if r.key == str(event.lead_id).encode())
        assert announced.causation_id == event.event_id
        assert announced.correlation_id == event.correlation_id
        assert str(announced.payload.assignment_id) == body["id"]  # type: ignore[union-attr]

    async def test_redelivery_and_requalification_leave_one_assignment(
        self, db: Database, settings_env: Infra
    ) -> None:
        first = qualified()
        again = qualified(first.lead_id)
        async with routing_app(db):
            await add_reps(db, 2)
            await publish(settings_env.kafka_bootstrap_servers, first, first, again)

            async def both_processed() -> None:
                assert await processed_count(db, [first.event_id, again.event_id]) == 2

            await eventually(both_processed, timeout_s=30)

        async with db.transaction() as session:
            assignments = await session.scalar(
                select(func.count()).select_from(Assignment).where(Assignment.lead_id == first.lead_id)
            )
            announced = await session.scalar(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.key == str(first.lead_id), outbox.c.event_type == "lead.assigned")
            )
            credited = await session.scalar(text("SELECT sum(assigned) FROM routing.rep_ledger"))
        assert (assignments, announced, credited) == (1, 1, 1)

    async def test_round_robin_spreads_leads_across_reps(self, db: Database, settings_env: Infra) -> None:
        events = [qualified() for _ in range(9)]
        async with routing_app(db):
            reps = await add_reps(db, 3)
            await publish(settings_env.kafka_bootstrap_servers, *events)

            async def all_processed() -> None:
                assert await processed_count(db, [e.event_id for e in events]) == len(events)

            await eventually(all_processed, timeout_s=30)

        assigned = await assignments_by_lead(db, [e.lead_id for e in events])
        assert Counter(assigned.values()) == dict.fromkeys(reps, 3)


class TestFallbackQueue:
    async def test_lead_without_an_eligible_rep_waits_and_is_assigned_when_one_joins(
        self, db: Database, settings_env: Infra
    ) -> None:
        event = qualified()
        async with routing_app(db) as client:
            await publish(settings_env.kafka_bootstrap_servers, event)

            async def queued() -> None:
                assert await processed_count(db, [event.event_id]) == 1

            await eventually(queued, timeout_s=30)
            waiting = await client.get(f"/v1/leads/{event.lead_id}/assignment", headers=MANAGER)
            assert waiting.status_code == 404
            assert waiting.headers["content-type"].startswith("application/problem+json")
            assert waiting.json()["queued"] is True

            created = await client.post(
                "/v1/reps", json={"name": "Late Larry", "email": "larry@example.com"}, headers=MANAGER
            )
            assert created.status_code == 201, created.text
            found = await client.get(f"/v1/leads/{event.lead_id}/assignment", headers=MANAGER)

        assert found.status_code == 200, found.text
        assert found.json()["rep_id"] == created.json()["id"]
        assert "queued_at" in found.json()["decision"]

    async def test_capped_and_inactive_reps_are_skipped_with_the_reason(self, db: Database) -> None:
        capped, off, free = await add_reps(db, 3)
        async with db.transaction() as session:
            await reps.update_rep(session, rules=RULES, rep_id=capped, changes=RepUpdate(max_open=0))
            await reps.update_rep(session, rules=RULES, rep_id=off, changes=RepUpdate(active=False))
            outcome = await assign_lead(session, rules=RULES, event=qualified())
        assert outcome.assignment is not None
        assert outcome.assignment.rep_id == free
        reasons = {s["rep_id"]: s["reason"] for s in outcome.assignment.decision["skipped"]}
        assert reasons == {str(capped): "capped", str(off): "inactive"}


class TestConcurrentReplicas:
    async def test_concurrent_assignments_stay_fair(self, db: Database) -> None:
        reps = await add_reps(db, 4)
        events = [qualified() for _ in range(20)]

        async def assign(event: LeadQualified) -> None:
            async with db.transaction() as session:
                await assign_lead(session, rules=RULES, event=event)

        await asyncio.gather(*(assign(e) for e in events))
        assigned = await assignments_by_lead(db, [e.lead_id for e in events])
        assert Counter(assigned.values()) == dict.fromkeys(reps, 5)

    async def test_concurrent_qualifications_of_one_lead_assign_it_once(self, db: Database) -> None:
        await add_reps(db, 3)
        lead_id = uuid.uuid4()

        async def assign() -> None:
            async with db.transaction() as session:
                await assign_lead(session, rules=RULES, event=qualified(lead_id))

        await asyncio.gather(*(assign() for _ in range(5)))
        async with db.transaction() as session:
            credited = await session.scalar(text("SELECT sum(assigned) FROM routing.rep_ledger"))
        assert len(await assignments_by_lead(db, [lead_id])) == 1
        assert credited == 1


class TestFairnessAcrossSkips:
    async def test_rep_back_within_working_hours_gets_no_catch_up_burst(self, db: Database) -> None:
        now = utc_now()
        later = {
            "start": (now + timedelta(hours=2)).strftime("%H:00"),
            "end": (now + timedelta(hours=3)).strftime("%H:00"),
        }
        (away,) = await add_reps(db, 1, working_hours={**later, "days": list(range(7))})
        async with db.transaction() as session:
            for i in range(2):
                await reps.register_rep(
                    session, rules=RULES, rep=RepCreate(name=f"On {i}", email=f"on{i}@example.com")
                )
        for _ in range(6):
            async with db.transaction() as session:
                outcome = await assign_lead(session, rules=RULES, event=qualified())
            assert outcome.assignment is not None
            assert outcome.assignment.rep_id != away
        async with db.transaction() as session:
            await reps.update_rep(session, rules=RULES, rep_id=away, changes=RepUpdate(working_hours=None))
        chosen = []
        for _ in range(3):
            async with db.transaction() as session:
                outcome = await assign_lead(session, rules=RULES, event=qualified())
            assert outcome.assignment is not None
            chosen.append(outcome.assignment.rep_id)
        assert chosen.count(away) == 1


class TestTwoReplicas:
    async def test_two_replicas_on_one_topic_assign_every_lead_exactly_once(
        self, db: Database, settings_env: Infra
    ) -> None:
        events = [qualified() for _ in range(15)]
        requalified = [qualified(e.lead_id) for e in events]
        replicas = create_app(), create_app()
        group = f"test-routing-{uuid.uuid4().hex[:12]}"
        async with running_app(replicas[0], group=group), running_app(replicas[1], group=group):
            for replica in replicas:
                await caught_up(replica)
            await truncate_all(db)
            reps = await add_reps(db, 3)
            await publish(settings_env.kafka_bootstrap_servers, *events, *requalified, *events)

            async def all_processed() -> None:
                ids = [e.event_id for e in (*events, *requalified)]
                assert await processed_count(db, ids) == len(ids)

            await eventually(all_processed, timeout_s=45)

        assigned = await assignments_by_lead(db, [e.lead_id for e in events])
        assert len(assigned) == len(events)
        assert Counter(assigned.values()) == dict.fromkeys(reps, 5)
        async with db.transaction() as session:
            announced = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.event_type == "lead.assigned")
            )
        assert announced == len(events)
