"""Assigning a consumer batch at once has the effect of assigning its events one by one."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text

from services.routing import batch, reps
from services.routing.assignment import assign_lead
from services.routing.batch_repository import AssignmentBatchRepository, BeforeLock
from services.routing.schemas import AbsenceCreate
from shared.contracts import LeadQualified, decode_event, utc_now
from shared.db import Database
from shared.outbox import notify_channel
from tests.support.routing import RULES, activate, add_rep
from tests.support.routing import qualified_for_rules as qualified

TERRITORIES: dict[str, Any] = {
    "name": "Territories",
    "pools": [
        {
            "id": "emea",
            "members": [
                {"rep": "ada@example.com"},
                {"rep": "bob@example.com", "weight": 3},
                {"rep": "eve@example.com"},
            ],
        },
        {
            "id": "everyone",
            "members": [
                {"rep": "ada@example.com"},
                {"rep": "cy@example.com", "weight": 2},
                {"rep": "dee@example.com"},
                {"rep": "fay@example.com"},
                {"rep": "gil@example.com"},
            ],
        },
    ],
    "rules": [
        {"id": "owner", "action": {"type": "account_owner"}},
        {
            "id": "vip",
            "when": [{"field": "grade", "op": "equals", "value": "A+"}],
            "action": {"type": "rep", "rep": "cy@example.com"},
        },
        {
            "id": "mining",
            "when": [{"field": "industry", "op": "equals", "value": "Mining"}],
            "action": {"type": "rep", "rep": "dee@example.com", "if_unavailable": "queue"},
        },
        {
            "id": "europe",
            "when": [{"field": "region", "op": "equals", "value": "emea"}],
            "action": {"type": "pool", "pool": "emea"},
        },
        {"id": "rest", "action": {"type": "pool", "pool": "everyone"}},
    ],
}


async def hire(db: Database) -> dict[str, uuid.UUID]:
    """A team with one rep of each kind: weighted, skilled, capped (open and per day), outside
    working hours, away and switched off."""
    now = utc_now()
    later = {
        "start": (now + timedelta(hours=2)).strftime("%H:00"),
        "end": (now + timedelta(hours=3)).strftime("%H:00"),
    }
    team = {
        "ada": await add_rep(db, "ada", skills=["de"]),
        "bob": await add_rep(db, "bob", weight=2),
        "cy": await add_rep(db, "cy", weight=3, max_open=1),
        "dee": await add_rep(db, "dee", max_per_day=2),
        "eve": await add_rep(db, "eve", weight=2, working_hours={**later, "days": list(range(7))}),
        "fay": await add_rep(db, "fay"),
        "gil": await add_rep(db, "gil", active=False),
    }
    async with db.transaction() as session:
        await reps.add_absence(
            session,
            rep_id=team["fay"],
            absence=AbsenceCreate(starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1)),
            acting_rep=None,
        )
    return team


def script(team: dict[str, uuid.UUID]) -> list[LeadQualified]:
    """Leads for every path: plain, skilled, nobody able (the fallback queue), a named rep who
    fills up, account owners (one outside hours), a rule that queues for its rep, a territory,
    a re-qualified lead and a redelivered event."""
    plain = [qualified(country="US") for _ in range(12)]
    events = [
        *plain[:4],
        qualified(country="US", language="de"),
        qualified(country="US", language="ja"),
        qualified("A+", country="US"),
        qualified("A+", country="US"),
        qualified(country="DE", account_owner_id=str(team["bob"])),
        qualified(country="FR", account_owner_id=str(team["eve"])),
        *(qualified(country=c) for c in ("DE", "FR", "ES", "IT")),
        *(qualified(country="US", industry="Mining") for _ in range(3)),
        qualified(lead_id=plain[0].lead_id, country="US"),
        plain[1],
        *plain[4:],
    ]
    return events


def _stripped(trace: dict[str, Any]) -> dict[str, Any]:
    """The trace without the instants it was decided at (they differ between the runs)."""
    kept = {k: v for k, v in trace.items() if k != "decided_at"}
    if "eligible" in kept:
        kept["eligible"] = [
            {**e, "last_assigned_at": e.get("last_assigned_at") is not None} for e in kept["eligible"]
        ]
    return kept


async def outcome(db: Database) -> dict[str, Any]:
    """Everything the assignments left behind, less their instants."""
    async with db.transaction() as session:

        async def rows(sql: str) -> list[Any]:
            return [tuple(row) for row in (await session.execute(text(sql))).all()]

        assignments = {
            row[0]: (*row[1:-1], _stripped(row[-1]))
            for row in await rows(
                "SELECT lead_id, rep_id, status, strategy, sla_tier, sla_minutes, sla_due_at, qualified_at, "
                "lead, qualified_event_id, correlation_id, reassignments, decision FROM routing.assignment"
            )
        }
        timers = await rows(
            "SELECT a.lead_id, t.rep_id, t.due_at, t.kind, t.reminders_planned, t.fired_at FROM routing.sla_timer t "
            "JOIN routing.assignment a ON a.id = t.assignment_id ORDER BY a.lead_id"
        )
        ledger = await rows(
            "SELECT pool, rep_id, weight, assigned, credit, last_share, last_assigned_at IS NULL "
            "FROM routing.rep_ledger ORDER BY pool, rep_id"
        )
        days = await rows("SELECT rep_id, day, assigned FROM routing.rep_day_count ORDER BY rep_id, day")
        queue = {
            row[0]: (*row[1:-1], _stripped(row[-1]))
            for row in await rows(
                "SELECT lead_id, pool, reason, event, decision FROM routing.unassigned_lead"
            )
        }
        outbox = await rows("SELECT value FROM routing.outbox ORDER BY id")
    announced = []
    for (value,) in outbox:
        event = decode_event(value)
        p = event.payload.model_dump(exclude={"assignment_id", "assigned_at"})
        announced.append((event.event_type, event.lead_id, event.causation_id, event.correlation_id, p))
    return {
        "assignments": assignments,
        "timers": timers,
        "ledger": ledger,
        "days": days,
        "queue": queue,
        "announced": announced,
    }


async def forget_assignments(db: Database) -> None:
    """Back to the team before any lead: the reps, their absences and the rules stay."""
    async with db.transaction() as session:
        await session.execute(
            text(
                "TRUNCATE routing.assignment, routing.sla_timer, routing.rep_ledger, routing.rep_day_count, "
                "routing.unassigned_lead, routing.outbox CASCADE"
            )
        )


class TestAssignLeads:
    @pytest.mark.parametrize("chunk", [batch.CHUNK, 3], ids=["one_write", "written_in_chunks"])
    @pytest.mark.parametrize("rules", [None, TERRITORIES], ids=["one_pool", "territories"])
    async def test_a_batch_assigns_as_its_events_one_by_one(
        self, db: Database, rules: dict[str, Any] | None, chunk: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Small chunks put writes in flight while leads are queued and pools opened.
        monkeypatch.setattr(batch, "CHUNK", chunk)
        team = await hire(db)
        if rules is not None:
            await activate(db, rules)
        events = script(team)
        for event in events:
            async with db.transaction() as session:
                await assign_lead(session, rules=RULES, event=event)
        expected = await outcome(db)
        await forget_assignments(db)
        async with db.transaction() as session:
            results = [o.result for o in await batch.assign_leads(session, rules=RULES, events=events)]

        assert await outcome(db) == expected
        assert results.count("already_assigned") == 2
        assert len(expected["assignments"]) == results.count("assigned")
        assert len(expected["queue"]) >= 1
        assert len(expected["assignments"]) + len(expected["queue"]) == len({e.lead_id for e in events})
        skipped = {s["reason"] for a in expected["assignments"].values() for s in a[-1].get("skipped", [])}
        assert {"capped", "outside_hours", "away", "inactive"} <= skipped

    async def test_a_redelivered_batch_changes_nothing(self, db: Database) -> None:
        team = await hire(db)
        events = script(team)
        async with db.transaction() as session:
            await batch.assign_leads(session, rules=RULES, events=events)
        before = await outcome(db)
        async with db.transaction() as session:
            results = {o.result for o in await batch.assign_leads(session, rules=RULES, events=events)}

        assert await outcome(db) == before
        assert results == {"already_assigned", "queued"}

    @pytest.mark.parametrize("chunk", [batch.CHUNK, 1], ids=["one_write", "written_in_chunks"])
    async def test_a_lead_assigned_behind_its_back_abandons_the_whole_batch(
        self, db: Database, monkeypatch: pytest.MonkeyPatch, chunk: int
    ) -> None:
        monkeypatch.setattr(batch, "CHUNK", chunk)
        await add_rep(db, "ada")
        taken, fresh = qualified(), qualified()
        async with db.transaction() as session:
            await assign_lead(session, rules=RULES, event=taken)
        before = await outcome(db)

        read_before_lock = AssignmentBatchRepository.before_lock

        async def nobody_holds(self: AssignmentBatchRepository, **kwargs: Any) -> BeforeLock:
            return dataclasses.replace(await read_before_lock(self, **kwargs), holders={})

        # As if another transaction assigned `taken` between the batch's look-up and its write.
        monkeypatch.setattr(AssignmentBatchRepository, "before_lock", nobody_holds)
        with pytest.raises(batch.BatchAbandoned):
            async with db.transaction() as session:
                await batch.assign_leads(session, rules=RULES, events=[fresh, taken, qualified()])

        assert await outcome(db) == before

    async def test_a_lead_twice_in_a_batch_is_assigned_once(self, db: Database) -> None:
        await add_rep(db, "ada")
        first = qualified()
        again = qualified(lead_id=first.lead_id)
        async with db.transaction() as session:
            results = [
                o.result for o in await batch.assign_leads(session, rules=RULES, events=[first, again, first])
            ]
        state = await outcome(db)

        assert results == ["assigned", "already_assigned", "already_assigned"]
        assert list(state["assignments"]) == [first.lead_id]
        assert [a[:3] for a in state["announced"]] == [("lead.assigned", first.lead_id, first.event_id)]
        assert [line[3] for line in state["ledger"]] == [1]


async def test_a_batch_wakes_the_relays_only_when_it_may_assign(db: Database) -> None:
    """The outbox notification rides on the batch's first read: sent when some lead has no
    assignment yet, not when every lead is held already (as `announce` was called before)."""
    await add_rep(db, "ada")
    taken = qualified()
    async with db.transaction() as session:
        await assign_lead(session, rules=RULES, event=taken)
    heard: list[str] = []
    async with db.engine.connect() as listening:
        raw = (await listening.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.add_listener(notify_channel("routing"), lambda *args: heard.append(args[2]))

        async with db.transaction() as session:
            await batch.assign_leads(session, rules=RULES, events=[taken, taken])
        # A notification committed before a statement's end reaches the listener with its answer.
        await raw.fetchval("SELECT 1")
        nothing_to_send = list(heard)
        sent: list[str] = []
        log = lambda *args: sent.append(args[2])  # noqa: E731
        sa_event.listen(db.engine.sync_engine, "before_cursor_execute", log)
        try:
            async with db.transaction() as session:
                await batch.assign_leads(session, rules=RULES, events=[taken, qualified()])
        finally:
            sa_event.remove(db.engine.sync_engine, "before_cursor_execute", log)
        await raw.fetchval("SELECT 1")

    assert nothing_to_send == []
    assert heard == [notify_channel("routing")]
    # No round trip of its own: it went with the batch's first read.
    assert [s for s in sent if "pg_notify" in s and "rule_set" not in s] == []
