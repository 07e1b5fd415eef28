"""A re-MQL is routed again: the lead's closed assignment starts its next round, the earlier
round kept in its trace; a redelivered re-MQL or first qualification changes nothing."""

from __future__ import annotations

from services.routing import dispositions, requalification
from services.routing.access import ANYONE
from services.routing.schemas import DispositionCreate
from shared.contracts import LeadQualified
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
