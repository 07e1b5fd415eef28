"""Sales' commitments from the signed agreement, learned from `rubric.activated` and enforced
where reps work: accepting is not contact, attempts before dropping a lead, the contact clock."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from services.routing import commitments, dispositions, handovers
from services.routing.access import Actor
from services.routing.models import Assignment, SlaTimer, outbox
from services.routing.schemas import DispositionCreate, ReassignCreate, TouchCreate
from shared.auth import Role
from shared.contracts import (
    NO_LEAD,
    AgreementTerms,
    LeadQualified,
    RubricActivated,
    RubricActivatedPayload,
    SlaBreached,
    TierCommitment,
    decode_event,
    utc_now,
)
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.integration.test_routing_sla import fire, reload
from tests.support.routing import (
    RULES,
    activate,
    add_rep,
    assign,
    qualified,
    qualified_for_rules,
    routing_app,
)

# `qualified()` leads are of tier "hot".
HOT = TierCommitment(
    grade="A",
    tier="hot",
    first_touch_minutes=60,
    accept_minutes=30,
    contact_minutes=5,
    min_attempts=3,
    attempt_business_days=10,
)


def activation(version: str, *tiers: TierCommitment) -> RubricActivated:
    return RubricActivated.new(
        lead_id=NO_LEAD,
        producer="scoring",
        payload=RubricActivatedPayload(
            rubric_version=version,
            approved_by={"marketing": "mia", "sales": "sam"},
            activated_at=utc_now(),
            agreement=AgreementTerms(tiers=list(tiers)),
        ),
    )


async def sign(db: Database, *tiers: TierCommitment, version: str = "2027.q1") -> None:
    async with db.transaction() as session:
        await commitments.learn_agreement(session, event=activation(version, *tiers))


def qualified_minutes_ago(minutes: int) -> LeadQualified:
    event = qualified(sla_minutes=600)
    earlier = event.payload.model_copy(update={"qualified_at": utc_now() - timedelta(minutes=minutes)})
    return event.model_copy(update={"payload": earlier})


async def accept(db: Database, assignment_id: object, rep: object) -> None:
    async with db.transaction() as session:
        await dispositions.record_disposition(
            session,
            assignment_id=assignment_id,  # type: ignore[arg-type]
            disposition=DispositionCreate(outcome="accepted"),
            actor=Actor(rep_id=rep),  # type: ignore[arg-type]
            recorded_by="test",
            default_currency="EUR",
        )


async def touch(db: Database, assignment_id: object, rep: object, channel: str) -> None:
    async with db.transaction() as session:
        await dispositions.log_touch(
            session,
            assignment_id=assignment_id,  # type: ignore[arg-type]
            touch=TouchCreate.model_validate({"channel": channel}),
            actor=Actor(rep_id=rep),  # type: ignore[arg-type]
        )


class TestContactCommitment:
    async def test_an_accepted_lead_nobody_contacts_breaches_the_contact_commitment(
        self, db: Database
    ) -> None:
        await sign(db, HOT)
        rep = await add_rep(db, "clicker")
        assignment = await assign(db, qualified_minutes_ago(10))
        await accept(db, assignment.id, rep)
        accepted = await reload(db, assignment.id)
        assert (accepted.status, accepted.first_touch_at, accepted.first_contact_at) == (
            "accepted",
            None,
            None,
        )

        await fire(db)

        after = await reload(db, assignment.id)
        assert after.contact_breached_at is not None
        async with db.transaction() as session:
            kinds = {(t.kind, t.outcome) for t in (await session.execute(select(SlaTimer))).scalars()}
            rows = await session.execute(select(outbox.c.value).where(outbox.c.event_type == "sla.breached"))
            breaches = [decode_event(row.value) for row in rows]
        assert ("contact", "breached") in kinds
        contact = [e for e in breaches if isinstance(e, SlaBreached) and e.payload.commitment == "contact"]
        assert len(contact) == 1

    async def test_a_call_is_contact_and_stops_the_contact_clock_a_social_touch_does_not(
        self, db: Database
    ) -> None:
        await sign(db, HOT)
        rep = await add_rep(db, "caller")
        assignment = await assign(db, qualified_minutes_ago(1))
        await accept(db, assignment.id, rep)
        await touch(db, assignment.id, rep, "social")
        social = await reload(db, assignment.id)
        assert (social.first_contact_at, social.attempts) == (None, 1)
        assert social.first_touch_at is not None
        await touch(db, assignment.id, rep, "call")
        called = await reload(db, assignment.id)
        assert called.first_contact_at is not None
        assert called.attempts == 2
        async with db.transaction() as session:
            contact = (await session.execute(select(SlaTimer).where(SlaTimer.kind == "contact"))).scalar_one()
        assert contact.outcome == "cancelled"

    async def test_an_accepted_lead_handed_over_keeps_its_contact_clock_for_the_new_holder(
        self, db: Database
    ) -> None:
        await sign(db, HOT)
        rep = await add_rep(db, "accepter")
        assignment = await assign(db, qualified_minutes_ago(1))
        await accept(db, assignment.id, rep)
        newcomer = await add_rep(db, "newcomer")
        async with db.transaction() as session:
            await handovers.reassign_assignment(
                session,
                rules=RULES,
                assignment_id=assignment.id,
                reassign=ReassignCreate(rep_id=newcomer, reason="holiday"),
                actor=Actor(),
                by="manager",
            )
        async with db.transaction() as session:
            timers = (await session.execute(select(SlaTimer).where(SlaTimer.kind == "contact"))).scalars()
            by_outcome = {(t.rep_id, t.outcome) for t in timers}
        assert (newcomer, None) in by_outcome
        assert (rep, "cancelled") in by_outcome

    async def test_without_an_agreement_accepting_starts_no_contact_clock(self, db: Database) -> None:
        rep = await add_rep(db, "unsigned")
        assignment = await assign(db, qualified_minutes_ago(10))
        await accept(db, assignment.id, rep)
        async with db.transaction() as session:
            kinds = (await session.execute(select(SlaTimer.kind))).scalars().all()
        assert "contact" not in kinds


class TestAttemptsBeforeDropping:
    async def test_fewer_attempts_than_the_commitment_cannot_reject_as_unresponsive(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            await sign(db, HOT)
            rep = await add_rep(db, "quitter")
            assignment = await assign(db, qualified_minutes_ago(1))
            as_rep = bearer(Role.REP, rep_id=rep)
            url = f"/v1/assignments/{assignment.id}/disposition"
            unresponsive = {"outcome": "rejected", "reason_code": "unresponsive"}
            early = await client.post(url, json=unresponsive, headers=as_rep)
            recycled_early = await client.post(url, json={"outcome": "recycled"}, headers=as_rep)
            for channel in ("call", "email", "call"):
                logged = await client.post(
                    f"/v1/assignments/{assignment.id}/touches", json={"channel": channel}, headers=as_rep
                )
                assert logged.status_code == 201, logged.text
            too_soon = await client.post(url, json=unresponsive, headers=as_rep)
            await first_attempt_business_days_ago(db, assignment.id, 10)
            kept = await client.post(url, json=unresponsive, headers=as_rep)

        problem = assert_commitment_problem(early)
        assert problem["commitment"] == "min_attempts"
        assert (problem["min_attempts"], problem["attempts"], problem["tier"]) == (3, 0, "hot")
        assert "3 attempts within 10 business days" in problem["detail"]
        assert problem["unmet"] == [
            {"term": "min_attempts", "required": 3, "logged": 0, "short_by": 3},
            {
                "term": "attempt_business_days",
                "business_days": 10,
                "business_days_remaining": 10,
                "window_ends_at": None,
            },
        ]
        assert_commitment_problem(recycled_early)
        # The attempts are made; the window of business days since the first is not over yet.
        waiting = assert_commitment_problem(too_soon)
        (window,) = waiting["unmet"]  # type: ignore[misc]
        assert (window["term"], window["business_days_remaining"]) == ("attempt_business_days", 10)
        assert window["window_ends_at"] is not None
        assert kept.status_code == 201, kept.text

    async def test_other_rejections_are_not_held_to_the_attempts(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with routing_app(db) as client:
            await sign(db, HOT)
            rep = await add_rep(db, "sorter")
            assignment = await assign(db, qualified_minutes_ago(1))
            rejected = await client.post(
                f"/v1/assignments/{assignment.id}/disposition",
                json={"outcome": "rejected", "reason_code": "student"},
                headers=bearer(Role.REP, rep_id=rep),
            )
        assert rejected.status_code == 201, rejected.text


async def test_the_latest_activation_is_in_force_and_a_replay_changes_nothing(db: Database) -> None:
    await sign(db, HOT, version="2027.q1")
    stricter = HOT.model_copy(update={"min_attempts": 6})
    await sign(db, stricter, version="2027.q2")
    await sign(db, HOT, version="2027.q1")  # replayed: the first activation of 2027.q1 stands
    async with db.transaction() as session:
        commitment = await commitments.commitment_for(session, "hot")
        none = await commitments.commitment_for(session, "cold")
    assert commitment is not None
    assert commitment.min_attempts == 6
    assert none is None


async def first_attempt_business_days_ago(db: Database, assignment_id: object, days: int) -> None:
    """Move the assignment's first attempt back `days` business days of its (Monday-to-Friday)
    rep, as if the window had run."""
    async with db.transaction() as session:
        assignment = await session.get(Assignment, assignment_id)
        assert assignment is not None
        assert assignment.first_attempt_at is not None
        at = assignment.first_attempt_at
        while days:
            at -= timedelta(days=1)
            days -= at.weekday() < 5
        assignment.first_attempt_at = at - timedelta(minutes=1)


def assert_commitment_problem(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, object] = response.json()
    assert str(problem["type"]).endswith("/commitment-not-met")
    return problem


async def test_a_routing_rule_may_test_the_agreements_persona(db: Database) -> None:
    ada, bob = await add_rep(db, "ada"), await add_rep(db, "bob")
    await activate(
        db,
        {
            "name": "By persona",
            "pools": [{"id": "others", "members": [{"rep": "ada@example.com"}]}],
            "rules": [
                {
                    "id": "revops-to-bob",
                    "when": [{"field": "persona", "op": "equals", "value": "revops-leader"}],
                    "action": {"type": "rep", "rep": "bob@example.com"},
                },
                {"id": "rest", "action": {"type": "pool", "pool": "others"}},
            ],
        },
    )
    revops = qualified_for_rules()
    revops = revops.model_copy(
        update={"payload": revops.payload.model_copy(update={"persona": "revops-leader"})}
    )
    assert (await assign(db, revops)).rep_id == bob
    assert (await assign(db, qualified_for_rules())).rep_id == ada
