"""The rep's lead brief: the queue, the assignment and every notice say why the lead qualified
(the rules that fired), what it answered and what it did, kept current after assignment; a
lead the rep holds that visits the pricing page tells the rep at once (`hot_again`). On the real
database and broker, with the Slack fake."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from services.routing import briefs, commitments, service
from services.routing.brief_models import LeadActivity, LeadBrief
from services.routing.models import Notification
from services.routing.settings import RoutingSettings
from shared.auth import Role
from shared.contracts import (
    NO_LEAD,
    AgreementTerms,
    LeadErased,
    LeadErasedPayload,
    RubricActivated,
    RubricActivatedPayload,
    utc_now,
)
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.briefs import form_filled, scored, visited
from tests.support.events import publish
from tests.support.notify import SlackFake, slack_fake
from tests.support.routing import add_rep, assign, qualified, qualified_for_rules, routing_app
from tests.support.waiting import eventually

MANAGER = bearer(Role.MANAGER)


async def assigned_lead(client: httpx.AsyncClient, bootstrap: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Publish a fresh `lead.qualified` and wait for its assignment; returns (lead id, rep id)."""
    event = qualified_for_rules("A", first_name="Grace", company="Analytical", job_title="CTO")
    await publish(bootstrap, event)
    holder: dict[str, Any] = {}

    async def assigned() -> None:
        response = await client.get(f"/v1/leads/{event.lead_id}/assignment", headers=MANAGER)
        assert response.status_code == 200, response.text
        holder.update(response.json())

    await eventually(assigned, timeout_s=30)
    return event.lead_id, uuid.UUID(holder["rep_id"])


class TestTheRepsQueue:
    async def test_shows_the_fired_rules_the_form_answers_and_an_activity_after_assignment(
        self, db: Database, settings_env: Infra
    ) -> None:
        bootstrap = settings_env.kafka_bootstrap_servers
        async with routing_app(db) as client:
            await add_rep(db, "ada")
            lead_id, rep_id = await assigned_lead(client, bootstrap)
            await publish(bootstrap, scored(lead_id), form_filled(lead_id), visited(lead_id))
            rep = bearer(Role.REP, rep_id=rep_id)

            async def briefed() -> dict[str, Any]:
                response = await client.get("/v1/reps/me/queue", headers=rep)
                assert response.status_code == 200, response.text
                [item] = response.json()
                brief: dict[str, Any] = item["brief"]
                assert brief["why"]
                assert brief["form_answers"]
                assert len(brief["timeline"]) == 2
                return brief

            await eventually(briefed, timeout_s=30)
            brief = await briefed()
            me = await client.get("/v1/me", headers=rep)
            by_lead = await client.get(f"/v1/leads/{lead_id}/brief", headers=rep)
            assignment = await client.get(f"/v1/leads/{lead_id}/assignment", headers=rep)

        assert [(r["reason"], r["points"]) for r in brief["why"]] == [
            ("Asked to talk to sales", 30),
            ("Executive or vice-president title", 25),
            ("Company of 200 to 4,999 employees", 20),
        ]
        assert (brief["grade"], brief["sla_tier"], brief["score"]) == ("A", "warm", 75.0)
        assert brief["form_answers"]["job_title"] == "CTO"
        assert brief["form_answers"]["timeline"] == "this quarter"
        newest, form = brief["timeline"]
        assert (newest["activity_type"], newest["subject"], newest["campaign"]) == (
            "page_view",
            "/pricing",
            "spring-sale",
        )
        assert (form["activity_type"], form["subject"], form["campaign"]) == (
            "form_submission",
            "demo-request",
            "q4-launch",
        )
        assert me.status_code == 200
        assert me.json()["rep"]["id"] == str(rep_id)
        assert by_lead.status_code == 200
        assert by_lead.json() == brief
        assert assignment.json()["brief"] == brief

    async def test_the_most_urgent_sla_comes_first_for_the_rep_and_their_manager(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            rep_id = await add_rep(db, "solo")
            # Assigned least urgent first, so neither creation order nor ids give the SLA order.
            leads = [(await assign(db, qualified(sla_minutes=minutes))).lead_id for minutes in (240, 60, 5)]
            own = await client.get("/v1/reps/me/queue", headers=bearer(Role.REP, rep_id=rep_id))
            team = await client.get("/v1/reps/me/queue", headers=MANAGER)
        assert [item["lead_id"] for item in own.json()] == [str(lead) for lead in reversed(leads)]
        dues = [item["sla_due_at"] for item in own.json()]
        assert dues == sorted(dues)
        ours = [item["lead_id"] for item in team.json() if uuid.UUID(item["lead_id"]) in leads]
        assert ours == [str(lead) for lead in reversed(leads)]

    async def test_a_rep_cannot_read_another_reps_brief(self, db: Database, settings_env: Infra) -> None:
        async with routing_app(db) as client:
            await add_rep(db, "ada")
            assignment = await assign(db, qualified_for_rules("A"))
            other = await client.get(
                f"/v1/leads/{assignment.lead_id}/brief", headers=bearer(Role.REP, rep_id=uuid.uuid4())
            )
            own = await client.get(
                f"/v1/leads/{assignment.lead_id}/brief", headers=bearer(Role.REP, rep_id=assignment.rep_id)
            )
            unknown = await client.get(f"/v1/leads/{uuid.uuid4()}/brief", headers=MANAGER)
            not_a_rep = await client.get("/v1/me", headers=MANAGER)
            no_rep = await client.get("/v1/me", headers=bearer(Role.ADMIN))
        assert other.status_code == 403, other.text
        assert other.headers["content-type"].startswith("application/problem+json")
        assert own.status_code == 200
        assert own.json()["grade"] == "A"
        assert unknown.status_code == 404
        assert (not_a_rep.status_code, not_a_rep.json()["rep"]) == (200, None)
        assert (no_rep.status_code, no_rep.json()["rep"]) == (200, None)


class TestHotAgain:
    async def test_a_pricing_page_visit_by_an_assigned_lead_notifies_its_rep(
        self, db: Database, settings_env: Infra
    ) -> None:
        bootstrap = settings_env.kafka_bootstrap_servers
        async with slack_fake() as slack:
            settings = RoutingSettings(notification_interval_s=0.05, public_url="https://baton.example.com")
            async with routing_app(db, settings) as client:
                urls = {name: await told_rep(db, slack, name) for name in ("ada", "bob")}
                lead_id, rep_id = await assigned_lead(client, bootstrap)
                holder = next(url for url, rid in urls.values() if rid == rep_id)
                other = next(url for url, rid in urls.values() if rid != rep_id)
                await publish(bootstrap, scored(lead_id))

                async def explained() -> None:
                    response = await client.get(f"/v1/leads/{lead_id}/brief", headers=MANAGER)
                    assert response.json()["why"], response.text

                await eventually(explained, timeout_s=30)
                await eventually(lambda: _assert_told(slack, holder, "New lead for you"), timeout_s=30)
                await publish(bootstrap, visited(lead_id))
                await eventually(lambda: _assert_told(slack, holder, "Hot again"), timeout_s=30)
        [hot] = [m for m in slack.to(holder) if "Hot again" in m["text"]]
        assert "visited the pricing page" in hot["text"]
        details = hot["blocks"][1]["text"]["text"]
        assert "Asked to talk to sales (+30)" in details
        assert "page_view /pricing (campaign spring-sale)" in details
        assert slack.to(other) == []

    async def test_what_happened_before_the_assignment_tells_nobody(self, db: Database) -> None:
        await add_rep(db, "ada", notify_channels=["email"])
        lead_id = uuid.uuid4()
        earlier = utc_now() - timedelta(minutes=5)
        async with db.transaction() as session:
            await briefs.record_form(session, event=form_filled(lead_id, at=earlier))
        assignment = await assign(db, qualified_for_rules("A", lead_id=lead_id))
        async with db.transaction() as session:
            await briefs.record_form(session, event=form_filled(lead_id, at=earlier))
            await briefs.record_score(session, event=scored(lead_id, 60.0, at=earlier), hot_score_jump=20)
            await briefs.record_score(session, event=scored(lead_id, 90.0), hot_score_jump=20)
            told = await session.scalars(select(Notification.message).where(Notification.kind == "hot_again"))
        assert [m["hot"] for m in told] == ["its score jumped from 60 to 90"]
        assert assignment.lead_id == lead_id


class TestTheAgreementNamesWhatIsHot:
    async def test_its_pages_threshold_and_hand_raiser_events_replace_the_defaults(
        self, db: Database
    ) -> None:
        terms = AgreementTerms(
            hot_again_pages=["/demo"], hot_again_score_jump=5, hand_raiser_activities=["event_attended"]
        )
        activation = RubricActivated.new(
            lead_id=NO_LEAD,
            producer="scoring",
            payload=RubricActivatedPayload(
                rubric_version="hot.1",
                approved_by={"marketing": "m", "sales": "s"},
                activated_at=utc_now(),
                agreement=terms,
            ),
        )
        await add_rep(db, "ada", notify_channels=["email"])
        held = await assign(db, qualified_for_rules("A"))
        async with db.transaction() as session:
            await commitments.learn_agreement(session, event=activation)
        attended = visited(held.lead_id, "/webinar", campaign=None)
        attended = attended.model_copy(
            update={"payload": attended.payload.model_copy(update={"activity_type": "event_attended"})}
        )
        batch = [visited(held.lead_id), visited(held.lead_id, "/demo/book", campaign=None), attended]
        async with db.transaction() as session:
            await briefs.record_activities(session, events=batch)
            await briefs.record_score(session, event=scored(held.lead_id, 60.0), hot_score_jump=20)
            await briefs.record_score(session, event=scored(held.lead_id, 66.0), hot_score_jump=20)
            told = list(
                await session.scalars(select(Notification.message).where(Notification.kind == "hot_again"))
            )
        assert [m["hot"] for m in told] == [
            "visited /demo",
            "raised a hand (event attended)",
            "its score jumped from 60 to 66",
        ]


class TestRecordActivities:
    async def test_a_batch_has_the_effect_of_each_activity_in_turn(self, db: Database) -> None:
        await add_rep(db, "ada", notify_channels=["email"])
        held = await assign(db, qualified_for_rules("A"))
        stranger = uuid.uuid4()
        batch = [visited(held.lead_id), visited(stranger), visited(held.lead_id, "/blog", campaign=None)]
        for _ in range(2):  # the second time, a redelivery: nothing new
            async with db.transaction() as session:
                await briefs.record_activities(session, events=batch)
        async with db.transaction() as session:
            stored = await session.scalar(select(func.count()).select_from(LeadActivity))
            told = list(
                await session.scalars(select(Notification.message).where(Notification.kind == "hot_again"))
            )
        assert stored == 3
        assert [(m["lead"]["id"], m["hot"]) for m in told] == [
            (str(held.lead_id), "visited the pricing page")
        ]


class TestErasure:
    async def test_an_erased_lead_leaves_no_brief(self, db: Database) -> None:
        lead_id = uuid.uuid4()
        async with db.transaction() as session:
            await briefs.record_form(session, event=form_filled(lead_id))
            await briefs.record_activity(session, event=visited(lead_id))
            erased = LeadErased.new(
                lead_id=lead_id,
                producer="ingest",
                payload=LeadErasedPayload(reason="request", erased_at=utc_now()),
            )
            await service.erase_lead(session, event=erased)
            left = [
                await session.scalar(select(func.count()).select_from(table))
                for table in (LeadBrief, LeadActivity)
            ]
        assert left == [0, 0]


async def told_rep(db: Database, slack: SlackFake, name: str) -> tuple[str, uuid.UUID]:
    url = slack.hook(name)
    rep_id = await add_rep(
        db, name, slack_webhook_url=url, slack_user_id=f"U0{name.upper()}", notify_channels=["slack"]
    )
    return url, rep_id


def _assert_told(slack: SlackFake, url: str, words: str) -> None:
    assert any(words in message["text"] for message in slack.to(url)), slack.to(url)


class TestBatchedScoresAndForms:
    """The followup lane hands the brief whole batches: the same effect as each event in turn."""

    async def _state(self, db: Database, lead_ids: list[uuid.UUID]) -> tuple[list[Any], list[Any]]:
        async with db.transaction() as session:
            kept = await session.execute(
                select(LeadBrief.lead_id, LeadBrief.score, LeadBrief.form_answers)
                .where(LeadBrief.lead_id.in_(lead_ids))
                .order_by(LeadBrief.lead_id)
            )
            told = await session.scalars(
                select(Notification.message["hot"].astext)
                .where(Notification.kind == "hot_again", Notification.lead_id.in_(lead_ids))
                .order_by(Notification.id)
            )
            return [tuple(row) for row in kept], list(told)

    async def test_a_batch_has_the_effect_of_each_score_and_form_in_turn(self, db: Database) -> None:
        await add_rep(db, "ada", notify_channels=["email"])
        results = []
        for batched in (False, True):
            held = await assign(db, qualified_for_rules("A"))
            other = uuid.uuid4()
            earlier = utc_now() - timedelta(minutes=5)
            second = form_filled(held.lead_id, form_id="pricing", hand_raiser=False)
            second = second.model_copy(
                update={
                    "payload": second.payload.model_copy(
                        update={"job_title": "CEO", "attributes": {"seats": 40}}
                    )
                }
            )
            forms = [form_filled(held.lead_id, at=earlier), form_filled(other), second]
            scores = [
                scored(held.lead_id, 50.0, at=earlier),
                scored(other, 70.0),
                scored(held.lead_id, 80.0),  # a jump of 30 while held: hot again
                scored(held.lead_id, 20.0, at=earlier - timedelta(minutes=1)),  # older: changes nothing
            ]
            async with db.transaction() as session:
                if batched:
                    await briefs.record_forms(session, events=forms)
                    await briefs.record_scores(session, events=scores, hot_score_jump=20)
                else:
                    for form in forms:
                        await briefs.record_form(session, event=form)
                    for score in scores:
                        await briefs.record_score(session, event=score, hot_score_jump=20)
            kept, told = await self._state(db, [held.lead_id, other])
            # The email carries the lead's id, which differs between the two rounds.
            by_role = {
                ("held" if lead == held.lead_id else "other"): (
                    s,
                    {k: v for k, v in a.items() if k != "email"},
                )
                for lead, s, a in kept
            }
            results.append((by_role, told))
        (one_by_one, told_one), (batch, told_batch) = results
        assert batch == one_by_one
        assert told_batch == told_one == ["its score jumped from 50 to 80"]
        assert batch["held"][0] == 80.0
        assert batch["held"][1]["job_title"] == "CEO"
        assert batch["held"][1]["seats"] == 40
