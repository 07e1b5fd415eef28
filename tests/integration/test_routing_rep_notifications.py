"""Reps are told of their leads on the channels they chose: an assignment reaches its rep (and
no other) as a Slack-compatible message and an email, a hand-over tells the old and the new
holder, a reminder reaches the holder, and a flaky Slack still ends with exactly one message.
On the real database, with a Slack fake that answers as Slack documents it and a real SMTP
server (aiosmtpd)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from services.routing import batch, handovers, sla
from services.routing.access import Actor
from services.routing.models import Assignment, Notification
from services.routing.policy import SlaPolicy, SmtpServer
from services.routing.repository import ErasureRepository
from services.routing.schemas import DeclineCreate, ReassignCreate
from services.routing.settings import RoutingSettings
from services.routing.worker import NotificationWorker
from shared.auth import Role
from shared.contracts import LeadQualified
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.events import publish
from tests.support.notify import RATE_LIMITED, ROLLUP_ERROR, Mailbox, SlackFake, slack_fake, smtp_server
from tests.support.routing import RULES, add_rep, assign, qualified_for_rules, routing_app
from tests.support.waiting import eventually

PUBLIC_URL = "https://baton.example.com"
MANAGER = bearer(Role.MANAGER)
ZONES = {"ada": "Europe/Paris", "bob": "America/New_York", "cy": "Asia/Tokyo"}


def hot_lead() -> LeadQualified:
    return qualified_for_rules(
        "A", first_name="Grace", last_name="Hopper", job_title="CTO", company="Analytical", country="US"
    )


async def add_told_rep(db: Database, slack: SlackFake, name: str, *channels: str) -> tuple[uuid.UUID, str]:
    """A rep with a Slack webhook of their own and a Slack user id; returns (id, webhook URL)."""
    url = slack.hook(name)
    rep_id = await add_rep(
        db,
        name,
        timezone=ZONES.get(name, "UTC"),
        slack_webhook_url=url,
        slack_user_id=f"U0{name.upper()}",
        notify_channels=list(channels or ("slack", "email")),
    )
    return rep_id, url


def notifier(db: Database, mailbox: Mailbox | None, *, max_attempts: int = 5) -> NotificationWorker:
    smtp = SmtpServer(mailbox.host, mailbox.port, sender="Baton <baton@example.com>") if mailbox else None
    return NotificationWorker(
        db,
        url=None,
        interval_s=0.05,
        timeout_s=2.0,
        max_attempts=max_attempts,
        backoff_s=0.01,
        smtp=smtp,
        public_url=PUBLIC_URL,
    )


async def deliver_all(db: Database, worker: NotificationWorker) -> None:
    """Run the notifier until nothing is pending. Timers fired at a future instant wrote their
    notifications due then: they are brought forward to now."""
    async with db.transaction() as session:
        await session.execute(
            update(Notification)
            .where(Notification.status == "pending", Notification.next_attempt_at > func.now())
            .values(next_attempt_at=func.now())
        )

    async def settled() -> None:
        await worker.run_once()
        async with db.transaction() as session:
            pending = await session.scalars(select(Notification).where(Notification.status == "pending"))
            assert list(pending) == []

    await eventually(settled, timeout_s=20)


def local_due(due_at: datetime, zone: str) -> str:
    return f"{due_at.astimezone(ZoneInfo(zone)):%a %d %b %Y, %H:%M} ({zone})"


class TestToldAtAssignment:
    async def test_the_assigned_rep_gets_the_slack_message_and_the_email_within_a_second(
        self, db: Database, settings_env: Infra
    ) -> None:
        event = hot_lead()
        async with slack_fake() as slack, smtp_server() as mailbox:
            settings = RoutingSettings(
                notification_interval_s=0.05,
                smtp_host=mailbox.host,
                smtp_port=mailbox.port,
                public_url=PUBLIC_URL,
            )
            async with routing_app(db, settings) as client:
                team = {name: await add_told_rep(db, slack, name) for name in ("ada", "bob", "cy")}
                await publish(settings_env.kafka_bootstrap_servers, event)

                async def assigned() -> None:
                    response = await client.get(f"/v1/leads/{event.lead_id}/assignment", headers=MANAGER)
                    assert response.status_code == 200, response.text

                await eventually(assigned, timeout_s=30)
                body = (await client.get(f"/v1/leads/{event.lead_id}/assignment", headers=MANAGER)).json()
                holder = next(name for name, (rep_id, _) in team.items() if str(rep_id) == body["rep_id"])

                def told() -> None:
                    assert slack.to(team[holder][1])
                    assert mailbox.to(f"{holder}@example.com")

                await eventually(told, timeout_s=10)

        assigned_at = datetime.fromisoformat(body["assigned_at"])
        (message,) = slack.to(team[holder][1])
        assert message["text"] == (
            f"<@U0{holder.upper()}> New lead for you: Grace Hopper, CTO at Analytical."
        )
        details = message["blocks"][1]["text"]["text"]
        assert "grade A, score 70, warm tier" in details
        assert local_due(datetime.fromisoformat(body["sla_due_at"]), ZONES[holder]) in details
        assert (
            f"{PUBLIC_URL}/v1/leads/{event.lead_id}/assignment" in message["blocks"][2]["elements"][0]["text"]
        )
        (email,) = mailbox.to(f"{holder}@example.com")
        assert email["To"] == f"{holder}@example.com"
        assert email["Subject"] == "New lead for you: Grace Hopper, CTO at Analytical."
        text = email.get_content()
        assert local_due(datetime.fromisoformat(body["sla_due_at"]), ZONES[holder]) in text
        assert f"{PUBLIC_URL}/v1/assignments/{body['id']}/accept" in text
        # The others hold nothing and hear nothing.
        for name, (_, url) in team.items():
            if name != holder:
                assert slack.to(url) == []
                assert mailbox.to(f"{name}@example.com") == []
        # Within a second of the assignment, on both channels.
        (received,) = [r for r in slack.received if r.path in team[holder][1]]
        assert received.at - assigned_at < timedelta(seconds=1)
        ((_, _, emailed_at),) = mailbox.messages
        assert emailed_at - assigned_at < timedelta(seconds=1)

    async def test_a_consumer_batch_tells_each_holder_as_one_assignment_would(self, db: Database) -> None:
        async with slack_fake() as slack:
            team = {name: await add_told_rep(db, slack, name, "slack") for name in ("ada", "bob")}
            events = [hot_lead(), hot_lead()]
            async with db.transaction() as session:
                outcomes = await batch.assign_leads(session, rules=RULES, events=events)
            worker = notifier(db, None)
            try:
                await deliver_all(db, worker)
            finally:
                await worker.stop()
        holders = {outcome.rep_id for outcome in outcomes}
        assert holders == {rep_id for rep_id, _ in team.values()}
        for _, url in team.values():
            (message,) = slack.to(url)
            assert "New lead for you: Grace Hopper, CTO at Analytical." in message["text"]

    async def test_a_send_that_raises_is_a_failed_attempt_and_its_round_goes_on(self, db: Database) -> None:
        async with slack_fake() as slack:
            team = {name: await add_told_rep(db, slack, name, "slack") for name in ("ada", "bob")}
            async with db.transaction() as session:
                await batch.assign_leads(session, rules=RULES, events=[hot_lead(), hot_lead()])
            worker = notifier(db, None)
            slack_send, raised = worker.senders["slack"], []

            async def surprising(outgoing: Any) -> Any:
                # A library's surprise (or a bug) on ada's first message, not an outcome.
                if outgoing.recipient == team["ada"][1] and not raised:
                    raised.append(outgoing)
                    raise RuntimeError("surprise")
                return await slack_send(outgoing)

            worker.senders["slack"] = surprising
            try:
                await deliver_all(db, worker)
            finally:
                await worker.stop()
            async with db.transaction() as session:
                rows = {
                    row.recipient: (row.status, row.attempts, row.last_error)
                    for row in await session.scalars(select(Notification))
                }
        assert raised
        # Each told once; bob's message went in the same round as ada's failed attempt, not again
        # after a lease ran out.
        assert [len(slack.to(url)) for _, url in team.values()] == [1, 1]
        assert rows[team["bob"][1]] == ("sent", 1, None)
        assert rows[team["ada"][1]][:2] == ("sent", 2)

    async def test_a_rep_who_chose_no_channel_is_told_nothing(self, db: Database) -> None:
        async with slack_fake() as slack, smtp_server() as mailbox:
            await add_rep(db, "quiet", slack_webhook_url=slack.hook("quiet"))
            await assign(db, hot_lead())
            await deliver_all(db, notifier(db, mailbox))
        assert slack.received == []
        assert mailbox.messages == []

    async def test_a_slack_that_answers_429_then_500_still_gets_exactly_one_message(
        self, db: Database
    ) -> None:
        async with slack_fake() as slack:
            url = slack.hook("ada", RATE_LIMITED, ROLLUP_ERROR)
            await add_rep(db, "ada", slack_webhook_url=url, notify_channels=["slack"])
            assignment = await assign(db, hot_lead())
            worker = notifier(db, None)
            try:
                await deliver_all(db, worker)
            finally:
                await worker.stop()
        assert slack.answered == [429, 500, 200]
        (message,) = slack.to(url)
        assert message["text"] == "ada New lead for you: Grace Hopper, CTO at Analytical."
        async with db.transaction() as session:
            (row,) = await session.scalars(
                select(Notification).where(Notification.assignment_id == assignment.id)
            )
        assert (row.status, row.attempts, row.channel) == ("sent", 3, "slack")

    async def test_a_revoked_webhook_fails_at_once_with_slacks_reason(self, db: Database) -> None:
        async with slack_fake() as slack:
            revoked = f"http://127.0.0.1:{slack.port}/services/T0BATON/B999/revoked"
            await add_rep(db, "ada", slack_webhook_url=revoked, notify_channels=["slack"])
            assignment = await assign(db, hot_lead())
            worker = notifier(db, None)
            try:
                await deliver_all(db, worker)
            finally:
                await worker.stop()
        assert slack.answered == [404]
        async with db.transaction() as session:
            (row,) = await session.scalars(
                select(Notification).where(Notification.assignment_id == assignment.id)
            )
        assert (row.status, row.attempts, row.last_error) == ("failed", 1, "HTTP 404: no_service")

    async def test_without_an_smtp_server_the_email_is_recorded_unsent(self, db: Database) -> None:
        await add_rep(db, "ada", notify_channels=["email"])
        assignment = await assign(db, hot_lead())
        worker = notifier(db, None)
        try:
            await deliver_all(db, worker)
        finally:
            await worker.stop()
        async with db.transaction() as session:
            (row,) = await session.scalars(
                select(Notification).where(Notification.assignment_id == assignment.id)
            )
        assert (row.status, row.channel, row.recipient) == ("unsent", "email", "ada@example.com")


class TestErasure:
    async def test_an_erased_lead_is_no_longer_named_in_what_reps_are_sent(self, db: Database) -> None:
        async with slack_fake() as slack:
            _, url = await add_told_rep(db, slack, "ada", "slack")
            assignment = await assign(db, hot_lead())
            async with db.transaction() as session:
                await ErasureRepository(session).erase_lead(assignment.lead_id)
            worker = notifier(db, None)
            try:
                await deliver_all(db, worker)
            finally:
                await worker.stop()
        (message,) = slack.to(url)
        assert message["text"] == "<@U0ADA> New lead for you: a lead."
        assert "Grace" not in json.dumps(message)
        assert "Analytical" not in json.dumps(message)


class TestToldAtHandOver:
    @pytest.mark.parametrize("kind", ["declined", "reassigned", "escalated"])
    async def test_the_old_and_the_new_holder_are_both_told(self, db: Database, kind: str) -> None:
        async with slack_fake() as slack, smtp_server() as mailbox:
            team = {name: await add_told_rep(db, slack, name) for name in ("ada", "bob")}
            assignment = await assign(db, hot_lead())
            old = next(name for name, (rep_id, _) in team.items() if rep_id == assignment.rep_id)
            new = next(name for name in team if name != old)
            async with db.transaction() as session:
                if kind == "declined":
                    await handovers.decline_assignment(
                        session,
                        rules=RULES,
                        assignment_id=assignment.id,
                        decline=DeclineCreate(reason="not my territory"),
                        actor=Actor(rep_id=assignment.rep_id),
                        by=old,
                    )
                elif kind == "reassigned":
                    await handovers.reassign_assignment(
                        session,
                        rules=RULES,
                        assignment_id=assignment.id,
                        reassign=ReassignCreate(rep_id=team[new][0], reason="on holiday"),
                        actor=Actor(),
                        by="manager",
                    )
                else:
                    policy = SlaPolicy(reminder_fractions=(), max_reassignments=1, notify_manager=False)
                    fired = await sla.fire_due_sla_timers(
                        session,
                        rules=RULES,
                        now=assignment.sla_due_at + timedelta(seconds=1),
                        limit=10,
                        policy=policy,
                    )
                    assert fired.breaches == 1
            async with db.transaction() as session:
                moved = await session.get(Assignment, assignment.id)
                assert moved is not None
                assert moved.rep_id == team[new][0]
            worker = notifier(db, mailbox)
            try:
                await deliver_all(db, worker)
            finally:
                await worker.stop()

        lead = "Grace Hopper, CTO at Analytical"
        # The first assignment's message and the hand-over's, in whichever order one pass sent them.
        old_heard = sorted(m["text"] for m in slack.to(team[old][1]))
        assert len(old_heard) == 2
        assert old_heard[1] == f"<@U0{old.upper()}> New lead for you: {lead}."
        assert old_heard[0].startswith(f"<@U0{old.upper()}> {lead} was handed over to {new}: ")
        (new_heard,) = [m["text"] for m in slack.to(team[new][1])]
        assert new_heard.startswith(f"<@U0{new.upper()}> A lead was handed to you: {lead} (")
        assert [m["To"] for m in mailbox.to(f"{old}@example.com")] == [f"{old}@example.com"] * 2
        assert [m["To"] for m in mailbox.to(f"{new}@example.com")] == [f"{new}@example.com"]


class TestToldOfReminders:
    async def test_a_reminder_reaches_the_holder_on_their_channels(self, db: Database) -> None:
        async with slack_fake() as slack, smtp_server() as mailbox:
            _, url = await add_told_rep(db, slack, "ada")
            assignment = await assign(db, hot_lead())
            async with db.transaction() as session:
                await sla.plan_reminders(session, fractions=(0.5,), limit=10)
            halfway = assignment.assigned_at + (assignment.sla_due_at - assignment.assigned_at) / 2
            async with db.transaction() as session:
                fired = await sla.fire_due_sla_timers(
                    session,
                    rules=RULES,
                    now=halfway + timedelta(seconds=1),
                    limit=10,
                    policy=SlaPolicy(reminder_fractions=(0.5,), max_reassignments=0),
                )
            assert fired.reminders == 1
            worker = notifier(db, mailbox)
            try:
                await deliver_all(db, worker)
            finally:
                await worker.stop()
        # The assignment's message and the reminder's, in whichever order one pass sent them.
        texts = sorted(m["text"] for m in slack.to(url))
        assert texts == [
            "<@U0ADA> New lead for you: Grace Hopper, CTO at Analytical.",
            "<@U0ADA> Reminder: Grace Hopper, CTO at Analytical is still waiting for your first touch "
            "(50 % of the SLA gone).",
        ]
        subjects = sorted(str(m["Subject"]) for m in mailbox.to("ada@example.com"))
        assert [s.split(":")[0] for s in subjects] == ["New lead for you", "Reminder"]


class TestChannelPreferences:
    async def test_a_rep_sets_their_own_channels_and_the_webhook_is_never_shown_back(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            rep_id = await add_rep(db, "ada")
            response = await client.patch(
                f"/v1/reps/{rep_id}",
                headers=bearer(Role.REP, rep_id=rep_id),
                json={
                    "notify_channels": ["email", "slack", "email"],
                    "slack_user_id": "U024BE7LH",
                    "slack_webhook_url": "https://hooks.slack.com/services/T0/B0/secret",
                },
            )
            assert response.status_code == 200, response.text
            body = response.json()
            bad = await client.patch(
                f"/v1/reps/{rep_id}", headers=MANAGER, json={"notify_channels": ["pager"]}
            )
        assert body["notify_channels"] == ["email", "slack"]
        assert body["slack_user_id"] == "U024BE7LH"
        assert body["slack_webhook_set"] is True
        assert "secret" not in response.text
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
