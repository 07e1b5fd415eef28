"""SLA reminders, webhook notifications and the escalation policy, on the real database, with a
small local HTTP server standing in for Slack."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import select, text

from services.routing import dispositions, reps, sla
from services.routing.access import Actor
from services.routing.assignment import assign_lead, sla_due_at_for
from services.routing.errors import RepSelfServiceOnly
from services.routing.main import create_app
from services.routing.models import Assignment, Notification, Rep, SlaTimer
from services.routing.policy import SlaPolicy
from services.routing.schemas import RepUpdate, TouchCreate
from services.routing.settings import RoutingSettings
from services.routing.worker import NotificationWorker
from shared.contracts import LeadQualified, utc_now
from shared.db import Database
from tests.conftest import Infra, truncate_all
from tests.support.apps import running_app
from tests.support.routing import RULES, add_rep, assign, qualified
from tests.support.waiting import eventually

QUIET = SlaPolicy(reminder_fractions=(0.5, 0.8), max_reassignments=0, notify_manager=False)


async def plan(db: Database, fractions: tuple[float, ...] = (0.5, 0.8)) -> int:
    async with db.transaction() as session:
        return await sla.plan_reminders(session, fractions=fractions, limit=100)


async def fire_at(db: Database, at: datetime, policy: SlaPolicy = QUIET, *, limit: int = 100) -> sla.Fired:
    async with db.transaction() as session:
        return await sla.fire_due_sla_timers(session, rules=RULES, now=at, limit=limit, policy=policy)


async def notifications(db: Database) -> list[Notification]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(Notification).order_by(Notification.created_at, Notification.kind)
        )
        return list(rows.scalars().all())


async def timers(db: Database, assignment_id: uuid.UUID) -> list[SlaTimer]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(SlaTimer).where(SlaTimer.assignment_id == assignment_id).order_by(SlaTimer.due_at)
        )
        return list(rows.scalars().all())


def qualified_for(minutes: int) -> LeadQualified:
    return qualified(sla_minutes=minutes, sla_tier="warm")


class TestReminders:
    async def test_reminders_fire_once_at_their_fractions_of_the_target(self, db: Database) -> None:
        await add_rep(db, "ada")
        event = qualified_for(10)
        assignment = await assign(db, event)
        start = event.payload.qualified_at

        assert await plan(db) == 1
        assert await plan(db) == 0
        planned = await timers(db, assignment.id)
        assert [(t.kind, t.fraction, t.due_at) for t in planned] == [
            ("reminder", 0.5, start + timedelta(minutes=5)),
            ("reminder", 0.8, start + timedelta(minutes=8)),
            ("breach", None, start + timedelta(minutes=10)),
        ]

        six_minutes_in = start + timedelta(minutes=6)
        assert await fire_at(db, six_minutes_in) == (1, 0, 1)
        assert await fire_at(db, six_minutes_in) == (0, 0, 0)
        assert await fire_at(db, start + timedelta(minutes=9)) == (1, 0, 1)
        outcomes = [t.outcome for t in await timers(db, assignment.id)]
        assert outcomes == ["reminded", "reminded", None]

        sent = await notifications(db)
        assert [(n.kind, n.status, n.assignment_id) for n in sent] == [
            ("sla.reminder", "unsent", assignment.id),
            ("sla.reminder", "unsent", assignment.id),
        ]
        assert "50 %" in sent[0].message["text"]
        assert "80 %" in sent[1].message["text"]

    async def test_a_touch_cancels_the_pending_reminders_and_the_deadline(self, db: Database) -> None:
        rep = await add_rep(db, "grace")
        event = qualified_for(10)
        assignment = await assign(db, event)
        await plan(db)
        await fire_at(db, event.payload.qualified_at + timedelta(minutes=6))
        async with db.transaction() as session:
            await dispositions.log_touch(
                session,
                assignment_id=assignment.id,
                touch=TouchCreate(channel="call"),
                actor=Actor(rep_id=rep),
            )

        assert await fire_at(db, event.payload.qualified_at + timedelta(hours=1)) == (0, 0, 0)
        assert [t.outcome for t in await timers(db, assignment.id)] == ["reminded", "cancelled", "cancelled"]

    async def test_reminders_planned_together_fall_where_each_reckoned_alone_would(
        self, db: Database
    ) -> None:
        # Shifts in three zones (one across midnight), a holiday and targets long enough to
        # cross days: one pass plans every timer as `sla_due_at_for` would, one at a time.
        hours = {
            "tokyo": ("Asia/Tokyo", {"start": "09:00", "end": "17:00"}),
            "denver": ("America/Denver", {"start": "22:00", "end": "06:00", "days": [0, 1, 2, 3, 4, 5]}),
            "utc": ("UTC", {"start": "08:00", "end": "12:00"}),
        }
        team = {name: await add_rep(db, name) for name in hours}
        assigned = [await assign(db, qualified_for(minutes)) for minutes in (30, 600, 2000, 90, 4000, 45)]
        async with db.transaction() as session:
            for name, (timezone, working) in hours.items():
                changes = RepUpdate.model_validate({"timezone": timezone, "working_hours": working})
                await reps.update_rep(session, rules=RULES, rep_id=team[name], changes=changes)
            await reps.set_holiday(session, day=utc_now().date() + timedelta(days=1), name="Founders' day")
            # Deadlines set before the hours were: moved out of the way, so every reminder counts.
            await session.execute(text("UPDATE routing.sla_timer SET due_at = due_at + interval '60 days'"))

        assert await plan(db, (0.25, 0.5, 0.8)) == len(assigned)
        async with db.transaction() as session:
            for assignment in assigned:
                rep = await session.get(Rep, assignment.rep_id)
                assert rep is not None
                expected = [
                    await sla_due_at_for(
                        session, rep=rep, start=assignment.qualified_at, minutes=f * assignment.sla_minutes
                    )
                    for f in (0.25, 0.5, 0.8)
                ]
                planned = [t.due_at for t in await timers(db, assignment.id) if t.kind == "reminder"]
                assert planned == expected

    async def test_a_breach_without_planned_reminders_plans_none_after_it(self, db: Database) -> None:
        await add_rep(db, "instant")
        assignment = await assign(db, qualified_for(0))
        assert await plan(db) == 1
        assert [t.kind for t in await timers(db, assignment.id)] == ["breach"]

    async def test_concurrent_scanners_remind_each_lead_exactly_once(self, db: Database) -> None:
        await add_rep(db, "a")
        await add_rep(db, "b")
        events = [qualified_for(10) for _ in range(12)]
        for event in events:
            await assign(db, event)
        await plan(db)
        at = max(e.payload.qualified_at for e in events) + timedelta(minutes=9)
        results = await asyncio.gather(*(fire_at(db, at, limit=5) for _ in range(5)))
        while sum(r.timers for r in results) < 24:
            results.append(await fire_at(db, at, limit=5))
        assert sum(r.reminders for r in results) == 24
        assert len([n for n in await notifications(db) if n.kind == "sla.reminder"]) == 24


class TestEscalationPolicy:
    async def test_a_breach_notifies_the_channel_and_the_reps_manager(self, db: Database) -> None:
        manager = uuid.uuid4()
        await add_rep(db, "managed", manager_id=str(manager))
        assignment = await assign(db, qualified_for(0))
        policy = SlaPolicy(reminder_fractions=(), max_reassignments=0, notify_manager=True)

        assert await fire_at(db, utc_now(), policy) == (1, 1, 0)

        sent = await notifications(db)
        assert sorted((n.kind, n.manager_id) for n in sent) == [
            ("sla.breached", None),
            ("sla.escalated", manager),
        ]
        async with db.transaction() as session:
            after = await session.get(Assignment, assignment.id)
        assert after is not None
        assert after.decision["escalations"][0]["manager_notified"] == str(manager)

    async def test_without_the_manager_rule_only_the_channel_hears_of_it(self, db: Database) -> None:
        await add_rep(db, "managed", manager_id=str(uuid.uuid4()))
        await assign(db, qualified_for(0))
        await fire_at(
            db, utc_now(), SlaPolicy(reminder_fractions=(), max_reassignments=0, notify_manager=False)
        )
        assert [n.kind for n in await notifications(db)] == ["sla.breached"]

    async def test_a_rep_who_keeps_breaching_is_paused_until_a_manager_says_otherwise(
        self, db: Database
    ) -> None:
        rep_id = await add_rep(db, "slow")
        for _ in range(2):
            await assign(db, qualified_for(0))
        policy = SlaPolicy(reminder_fractions=(), max_reassignments=0, pause_after_breaches=2)

        assert await fire_at(db, utc_now(), policy) == (2, 2, 0)

        async with db.transaction() as session:
            rep = await session.get(Rep, rep_id)
            assert rep is not None
            assert (rep.active, rep.paused_reason) == (False, "2 SLA breaches within 24 h")
            queued = await assign_lead(session, rules=RULES, event=qualified_for(0))
        assert queued.result == "queued"
        paused = [n for n in await notifications(db) if n.kind == "rep.paused"]
        assert len(paused) == 1
        assert REGISTRY.get_sample_value("baton_routing_reps_paused_total") is not None

        with pytest.raises(RepSelfServiceOnly):
            async with db.transaction() as session:
                await reps.update_rep(
                    session, rules=RULES, rep_id=rep_id, changes=RepUpdate(active=True), acting_rep=rep_id
                )
        async with db.transaction() as session:
            back = await reps.update_rep(session, rules=RULES, rep_id=rep_id, changes=RepUpdate(active=True))
        assert (back.active, back.paused_reason, back.paused_at) == (True, None, None)
        async with db.transaction() as session:
            # Switching the rep back on drained the fallback queue to them.
            assert await session.scalar(select(Assignment).where(Assignment.rep_id == rep_id).limit(1))


@dataclass
class SlackStandIn:
    """A local HTTP server that answers webhook posts with scripted statuses, then 200."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, object]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T000/B000/XXXX"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        body = await reader.readexactly(length)
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.received.append(json.loads(body))
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".encode())
        await writer.drain()
        writer.close()


@asynccontextmanager
async def slack(*statuses: int) -> AsyncIterator[SlackStandIn]:
    stand_in = SlackStandIn(list(statuses))
    server = await asyncio.start_server(stand_in.handle, "127.0.0.1", 0)
    stand_in.port = server.sockets[0].getsockname()[1]
    async with server:
        yield stand_in


def notifier(db: Database, url: str, *, max_attempts: int = 3) -> NotificationWorker:
    return NotificationWorker(
        db, url=url, interval_s=0.05, timeout_s=2.0, max_attempts=max_attempts, backoff_s=0.01
    )


class TestWebhookDelivery:
    async def test_a_failed_post_is_retried_until_the_webhook_takes_it(self, db: Database) -> None:
        await add_rep(db, "ada")
        await assign(db, qualified_for(0))
        await fire_at(
            db, utc_now(), SlaPolicy(reminder_fractions=(), max_reassignments=0, deliver_notifications=True)
        )
        async with slack(500) as stand_in:
            worker = notifier(db, stand_in.url)
            try:
                assert await worker.run_once() == 0
                (failed_once,) = await notifications(db)
                assert (failed_once.status, failed_once.attempts) == ("pending", 1)
                assert failed_once.last_error is not None
                assert failed_once.last_error.startswith("HTTP 500")

                async def delivered() -> None:
                    await worker.run_once()
                    (row,) = await notifications(db)
                    assert row.status == "sent"

                await eventually(delivered)
            finally:
                await worker.stop()
        (message,) = stand_in.received
        assert str(message["text"]).startswith(":rotating_light: SLA breached: ada")
        assert isinstance(message["blocks"], list)
        assert message["blocks"]
        assert "@example.com" not in json.dumps(message)

    async def test_a_webhook_that_keeps_failing_gives_up_and_counts_it(self, db: Database) -> None:
        await add_rep(db, "ada")
        await assign(db, qualified_for(0))
        await fire_at(
            db, utc_now(), SlaPolicy(reminder_fractions=(), max_reassignments=0, deliver_notifications=True)
        )
        before = REGISTRY.get_sample_value(
            "baton_routing_notifications_abandoned_total", {"kind": "sla.breached"}
        )
        async with slack(503, 503, 503) as stand_in:
            worker = notifier(db, stand_in.url, max_attempts=2)
            try:

                async def given_up() -> None:
                    await worker.run_once()
                    (row,) = await notifications(db)
                    assert (row.status, row.attempts) == ("failed", 2)

                await eventually(given_up)
            finally:
                await worker.stop()
        assert stand_in.received == []
        after = REGISTRY.get_sample_value(
            "baton_routing_notifications_abandoned_total", {"kind": "sla.breached"}
        )
        assert (after or 0) - (before or 0) == 1
        failures = REGISTRY.get_sample_value(
            "baton_routing_notification_failures_total", {"reason": "http_503"}
        )
        assert failures is not None
        assert failures >= 2

    async def test_the_running_app_posts_a_breach_to_the_webhook(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with slack() as stand_in:
            settings = RoutingSettings(
                worker_interval_s=0.1,
                notification_interval_s=0.1,
                notification_webhook_url=SecretStr(stand_in.url),
                sla_max_reassignments=0,
            )
            # The workers are under test, not the consumer (see test_routing_sla's worker test).
            async with running_app(create_app(settings), consume=False):
                await truncate_all(db)
                await add_rep(db, "slow")
                assignment = await assign(db, qualified_for(0))

                def posted() -> None:
                    ours = [m for m in stand_in.received if str(assignment.id) in json.dumps(m)]
                    assert [str(m["text"]).split(":")[1] for m in ours] == ["rotating_light"]

                await eventually(posted, timeout_s=30)
