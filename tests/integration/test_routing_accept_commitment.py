"""The agreement's time to accept or reject: an `accept` timer from each new hold on an
unanswered lead, a reminder to the holder halfway, a breach escalated like the first touch's,
and any outcome (or hand-over) that ends the hold cancels it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from prometheus_client import REGISTRY
from sqlalchemy import select

from services.routing import handovers, requalification, sla
from services.routing.access import Actor
from services.routing.models import Notification, SlaTimer, outbox
from services.routing.policy import SlaPolicy
from services.routing.repository import AssignmentRepository
from services.routing.schemas import DeclineCreate
from shared.contracts import SlaBreached, TierCommitment, decode_event, utc_now
from shared.db import Database
from tests.integration.test_routing_commitments import HOT, accept, sign
from tests.integration.test_routing_sla import reload
from tests.support.routing import RULES, add_rep, assign, qualified

# First touch in 10 hours, so that only the accept commitment (30 minutes) falls due here.
SLOW_TOUCH = 600


async def fire_at(db: Database, now: datetime) -> sla.Fired:
    policy = SlaPolicy(reminder_fractions=(), max_reassignments=1)
    async with db.transaction() as session:
        return await sla.fire_due_sla_timers(session, rules=RULES, now=now, limit=100, policy=policy)


async def timers(db: Database, assignment_id: uuid.UUID) -> list[tuple[str, uuid.UUID, str | None]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(SlaTimer)
            .where(SlaTimer.assignment_id == assignment_id, SlaTimer.kind.in_(("accept", "accept_reminder")))
            .order_by(SlaTimer.due_at, SlaTimer.kind)
        )
        return [(t.kind, t.rep_id, t.outcome) for t in rows.scalars()]


async def breaches(db: Database) -> list[SlaBreached]:
    async with db.transaction() as session:
        rows = await session.execute(select(outbox.c.value).where(outbox.c.event_type == "sla.breached"))
        events = [decode_event(row.value) for row in rows]
    return [e for e in events if isinstance(e, SlaBreached)]


def counted(name: str, commitment: str, tier: str = "hot") -> float:
    return REGISTRY.get_sample_value(name, {"commitment": commitment, "sla_tier": tier}) or 0.0


class TestAcceptCommitment:
    async def test_a_lead_nobody_accepts_or_rejects_breaches_and_is_escalated(self, db: Database) -> None:
        await sign(db, HOT)
        first, second = await add_rep(db, "sitter"), await add_rep(db, "taker")
        before = counted("baton_routing_commitment_breaches_total", "accept")
        assignment = await assign(db, qualified(sla_minutes=SLOW_TOUCH))
        holder = assignment.rep_id
        other = second if holder == first else first
        assert await timers(db, assignment.id) == [
            ("accept_reminder", holder, None),
            ("accept", holder, None),
        ]

        fired = await fire_at(db, utc_now() + timedelta(minutes=31))

        assert fired.breaches == 1
        (breach,) = await breaches(db)
        assert (breach.payload.commitment, breach.payload.rep_id) == ("accept", holder)
        assert breach.payload.reassigned_to == other
        after = await reload(db, assignment.id)
        assert (after.rep_id, after.status, after.sla_breached_at) == (other, "open", None)
        # The hand-over starts the new holder's own time to accept or reject.
        assert await timers(db, assignment.id) == [
            ("accept_reminder", holder, "moot"),
            ("accept", holder, "breached"),
            ("accept_reminder", other, None),
            ("accept", other, None),
        ]
        assert counted("baton_routing_commitment_breaches_total", "accept") == before + 1

    async def test_accepting_cancels_the_accept_clock(self, db: Database) -> None:
        await sign(db, HOT)
        rep = await add_rep(db, "quick")
        assignment = await assign(db, qualified(sla_minutes=SLOW_TOUCH))
        await accept(db, assignment.id, rep)

        fired = await fire_at(db, utc_now() + timedelta(minutes=31))

        assert await timers(db, assignment.id) == [
            ("accept_reminder", rep, "cancelled"),
            ("accept", rep, "cancelled"),
        ]
        assert [b.payload.commitment for b in await breaches(db)] == ["contact"]
        assert fired.breaches == 1

    async def test_the_holder_is_reminded_halfway(self, db: Database) -> None:
        await sign(db, HOT)
        rep = await add_rep(db, "forgetful", notify_channels=["email"])
        before = counted("baton_routing_commitment_reminders_total", "accept")
        assignment = await assign(db, qualified(sla_minutes=SLOW_TOUCH))

        fired = await fire_at(db, utc_now() + timedelta(minutes=16))

        assert (fired.breaches, fired.reminders) == (0, 1)
        assert await timers(db, assignment.id) == [
            ("accept_reminder", rep, "reminded"),
            ("accept", rep, None),
        ]
        async with db.transaction() as session:
            rows = await session.execute(select(Notification).where(Notification.kind == "accept.reminder"))
            (notice,) = rows.scalars()
        assert (notice.rep_id, notice.channel, notice.recipient) == (rep, "email", "forgetful@example.com")
        assert notice.message["fraction"] == 0.5
        assert counted("baton_routing_commitment_reminders_total", "accept") == before + 1

    async def test_a_decline_restarts_the_clock_for_the_new_rep(self, db: Database) -> None:
        await sign(db, HOT)
        await add_rep(db, "decliner")
        await add_rep(db, "heir")
        assignment = await assign(db, qualified(sla_minutes=SLOW_TOUCH))
        holder = assignment.rep_id
        async with db.transaction() as session:
            handed = await handovers.decline_assignment(
                session,
                rules=RULES,
                assignment_id=assignment.id,
                decline=DeclineCreate(reason="not my territory"),
                actor=Actor(rep_id=holder),
                by="decliner",
            )
        heir = handed.to_rep_id
        assert heir is not None
        assert heir != holder
        assert await timers(db, assignment.id) == [
            ("accept_reminder", holder, "cancelled"),
            ("accept_reminder", heir, None),
            ("accept", holder, "cancelled"),
            ("accept", heir, None),
        ]

    async def test_a_batch_of_qualified_leads_starts_the_clocks_too(self, db: Database) -> None:
        await sign(db, HOT, TierCommitment(grade="B", tier="warm", first_touch_minutes=60))
        rep = await add_rep(db, "batched")
        events = [qualified(sla_minutes=SLOW_TOUCH), qualified(sla_minutes=SLOW_TOUCH, sla_tier="warm")]
        async with db.transaction() as session:
            await requalification.assign_qualified(session, rules=RULES, events=events)
        hot, warm = [await assignment_of(db, e.lead_id) for e in events]
        assert await timers(db, hot) == [("accept_reminder", rep, None), ("accept", rep, None)]
        # The warm tier's commitment sets no time to accept.
        assert await timers(db, warm) == []

    async def test_without_an_agreement_there_is_no_accept_clock(self, db: Database) -> None:
        await add_rep(db, "unsigned")
        assignment = await assign(db, qualified(sla_minutes=SLOW_TOUCH))
        assert await timers(db, assignment.id) == []


async def assignment_of(db: Database, lead_id: uuid.UUID) -> uuid.UUID:
    async with db.transaction() as session:
        assignment = await AssignmentRepository(session).by_lead(lead_id)
    assert assignment is not None
    return assignment.id
