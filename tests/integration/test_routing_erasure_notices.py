"""An erasure reaches routing's team notices: their text quotes the lead's company and title."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from services.routing import service
from services.routing.models import Notification
from shared.contracts import LeadErased, LeadErasedPayload, utc_now
from shared.db import Database
from tests.support.routing import add_rep, assign


def team_notice(assignment_id: uuid.UUID, lead_id: uuid.UUID | None, *, status: str) -> Notification:
    now = utc_now()
    return Notification(
        id=uuid.uuid4(),
        kind="sla.breached",
        lead_id=lead_id,
        assignment_id=assignment_id,
        message={"text": "Ada Lovelace, CTO at Analytical, waited past the SLA"},
        status=status,
        attempts=0,
        next_attempt_at=now + timedelta(minutes=5),
        created_at=now,
        sent_at=now if status == "sent" else None,
        channel="team",
    )


async def test_an_erasure_empties_the_team_notices_about_the_lead_and_stops_the_unsent(
    db: Database,
) -> None:
    await add_rep(db, "ada")
    assignment = await assign(db)
    other = await assign(db)
    async with db.transaction() as session:
        session.add_all(
            [
                team_notice(assignment.id, None, status="sent"),
                team_notice(assignment.id, assignment.lead_id, status="pending"),
                team_notice(other.id, other.lead_id, status="pending"),
            ]
        )
    erased = LeadErased.new(
        lead_id=assignment.lead_id,
        producer="ingest",
        payload=LeadErasedPayload(reason="request", erased_at=utc_now()),
    )
    async with db.transaction() as session:
        await service.erase_lead(session, event=erased)
        notices = (await session.scalars(select(Notification))).all()
    mine = sorted(
        (n.status, n.message == {"erased": True}) for n in notices if n.assignment_id == assignment.id
    )
    assert mine == [("failed", True), ("sent", True)]
    [untouched] = [n for n in notices if n.assignment_id == other.id]
    assert (untouched.status, untouched.message["text"]) == (
        "pending",
        "Ada Lovelace, CTO at Analytical, waited past the SLA",
    )
