"""A re-MQL is routed again: the lead's closed assignment starts its next round, the earlier
round kept in its trace; a redelivered re-MQL or first qualification changes nothing. Its
previous rep has no claim on it: paused or away, another of the pool takes it, and with nobody
at all it waits in the fallback queue like any lead."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.routing import dispositions, reps, requalification
from services.routing.access import ANYONE
from services.routing.fallback_queue import retry_fallback_queue
from services.routing.repository import FallbackQueueRepository
from services.routing.schemas import AbsenceCreate, DispositionCreate, RepUpdate
from shared.contracts import LeadQualified, utc_now
from shared.db import Database
from tests.integration.test_routing_sla import reload
from tests.support.routing import RULES, add_rep, assign, qualified


def requalified(first: LeadQualified, round_: int = 2) -> LeadQualified:
    again = qualified(first.lead_id, sla_minutes=60)
    payload = again.payload.model_copy(update={"requalification": True, "round": round_})
    return again.model_copy(update={"payload": payload})


async def recycle(db: Database, assignment_id: object) -> None:
    async with db.transaction() as session:
        await dispositions.record_disposition(
            session,
            assignment_id=assignment_id,  # type: ignore[arg-type]
            disposition=DispositionCreate(outcome="recycled"),
            actor=ANYONE,
            recorded_by="manager",
            default_currency="EUR",
        )


async def route(db: Database, event: LeadQualified) -> str:
    async with db.transaction() as session:
        outcome = await requalification.assign_qualified_lead(session, rules=RULES, event=event)
    return outcome.result


async def test_a_re_mql_of_a_recycled_lead_is_routed_again(db: Database) -> None:
    await add_rep(db, "again")
    first = qualified(sla_minutes=60)
    assignment = await assign(db, first)
    await recycle(db, assignment.id)

    assert await route(db, requalified(first)) == "assigned"

    after = await reload(db, assignment.id)
    assert after.status == "open"
    assert after.decision["qualification_round"] == 2
    (earlier,) = after.decision["rounds"]
    assert (earlier["round"], earlier["status"]) == (1, "recycled")
    assert (after.first_touch_at, after.attempts) == (None, 0)
    assert after.qualified_event_id != first.event_id


async def test_redelivered_qualifications_change_nothing(db: Database) -> None:
    await add_rep(db, "steady")
    first = qualified(sla_minutes=60)
    assignment = await assign(db, first)
    assert await route(db, first) == "already_assigned"
    await recycle(db, assignment.id)
    again = requalified(first)
    assert await route(db, again) == "assigned"
    assert await route(db, again) == "already_assigned"
    assert (await reload(db, assignment.id)).decision["qualification_round"] == 2


async def test_a_re_mql_of_a_lead_still_worked_is_not_routed_again(db: Database) -> None:
    await add_rep(db, "busy")
    first = qualified(sla_minutes=60)
    assignment = await assign(db, first)
    assert await route(db, requalified(first)) == "already_assigned"
    assert (await reload(db, assignment.id)).status == "open"


async def switch(db: Database, rep_id: uuid.UUID, *, on: bool) -> None:
    async with db.transaction() as session:
        await reps.update_rep(session, rules=RULES, rep_id=rep_id, changes=RepUpdate(active=on))


class TestReMqlFallsBackToThePool:
    async def test_a_re_mql_whose_rep_is_paused_goes_to_another_of_the_pool(self, db: Database) -> None:
        team = {await add_rep(db, "ada"), await add_rep(db, "bob")}
        first = qualified(sla_minutes=60)
        assignment = await assign(db, first)
        await recycle(db, assignment.id)
        await switch(db, assignment.rep_id, on=False)

        assert await route(db, requalified(first)) == "assigned"

        after = await reload(db, assignment.id)
        assert after.rep_id == (team - {assignment.rep_id}).pop()
        assert (after.status, after.decision["qualification_round"]) == ("open", 2)

    async def test_a_re_mql_whose_rep_is_away_goes_to_another_of_the_pool(self, db: Database) -> None:
        team = {await add_rep(db, "cy"), await add_rep(db, "di")}
        first = qualified(sla_minutes=60)
        assignment = await assign(db, first)
        await recycle(db, assignment.id)
        now = utc_now()
        async with db.transaction() as session:
            away = AbsenceCreate(starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1))
            await reps.add_absence(session, rep_id=assignment.rep_id, absence=away, acting_rep=None)

        assert await route(db, requalified(first)) == "assigned"

        assert (await reload(db, assignment.id)).rep_id == (team - {assignment.rep_id}).pop()

    async def test_a_re_mql_nobody_can_take_waits_and_is_routed_when_a_rep_is_back(
        self, db: Database
    ) -> None:
        only = await add_rep(db, "solo")
        first = qualified(sla_minutes=60)
        assignment = await assign(db, first)
        await recycle(db, assignment.id)
        await switch(db, only, on=False)

        assert await route(db, requalified(first)) == "queued"
        assert (await reload(db, assignment.id)).status == "recycled"

        await switch(db, only, on=True)
        async with db.transaction() as session:
            await retry_fallback_queue(session, rules=RULES)
            waiting = await FallbackQueueRepository(session).size()

        after = await reload(db, assignment.id)
        assert (after.rep_id, after.status, after.decision["qualification_round"]) == (only, "open", 2)
        assert "queued_at" in after.decision
        assert waiting == 0
