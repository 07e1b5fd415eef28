"""The way back: a lead sales recycles (or rejects as unresponsive) returns to nurture with the
reason, and qualifies again (a re-MQL, `lead.qualified` with `requalification` and its round)
only after the agreement's cool-down and new engagement; never confused with its first."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from services.scoring import batch, service
from services.scoring.rubric import Rubric, load_rubric
from shared.contracts import (
    LeadDispositioned,
    LeadDispositionedPayload,
    LeadIngested,
    LeadQualified,
    decode_event,
    utc_now,
)
from shared.db import Database
from tests.integration.test_scoring_service import ingested

DAY_MINUTES = 60 * 24
# The starter rubric with the agreement's way back: 30 days in nurture before a re-MQL.
RUBRIC = Rubric.from_document(
    {**load_rubric().model_dump(mode="json"), "version": "way-back", "nurture": {"recycle_cooldown_days": 30}}
)


async def score(db: Database, event: LeadIngested, *, batched: bool = False) -> None:
    async with db.transaction() as session:
        if batched:
            await batch.score_events(session, rubric=RUBRIC, events=[event])
        else:
            await service.score_lead(session, rubric=RUBRIC, event=event)


async def hand_back(
    db: Database, lead_id: uuid.UUID, *, days_ago: float, outcome: str = "recycled", code: str | None = None
) -> None:
    event = LeadDispositioned.new(
        lead_id=lead_id,
        producer="routing",
        payload=LeadDispositionedPayload(
            assignment_id=uuid.uuid4(),
            rep_id=uuid.uuid4(),
            outcome=outcome,  # type: ignore[arg-type]
            reason_code=code,
            reason="no answer after six attempts" if code else None,
            dispositioned_at=utc_now() - timedelta(days=days_ago),
        ),
    )
    async with db.transaction() as session:
        await service.record_disposition(session, event=event)


async def qualifications(db: Database, lead_id: uuid.UUID) -> list[LeadQualified]:
    async with db.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT value FROM scoring.outbox WHERE key = :key AND event_type = 'lead.qualified' ORDER BY id"
            ),
            {"key": str(lead_id)},
        )
        events = [decode_event(row.value) for row in rows]
    return [e for e in events if isinstance(e, LeadQualified)]


async def profile(db: Database, lead_id: uuid.UUID) -> Any:
    async with db.transaction() as session:
        return (
            await session.execute(
                text(
                    "SELECT qualified_at, requalified_at, returned_to_nurture_at, nurture_reason, "
                    "qualification_round FROM scoring.lead_profile WHERE lead_id = :id"
                ),
                {"id": lead_id},
            )
        ).one()


async def test_a_recycled_lead_requalifies_after_the_cool_down_and_new_engagement(db: Database) -> None:
    lead_id = uuid.uuid4()
    await score(db, ingested(lead_id, minutes_ago=45 * DAY_MINUTES, form_id="demo-request"))
    await hand_back(db, lead_id, days_ago=40)
    returned = await profile(db, lead_id)
    assert returned.nurture_reason == "recycled"
    assert returned.returned_to_nurture_at is not None

    await score(db, ingested(lead_id, minutes_ago=1, form_id="contact-sales"))

    first, again = await qualifications(db, lead_id)
    assert (first.payload.requalification, first.payload.round) == (False, 1)
    assert (again.payload.requalification, again.payload.round) == (True, 2)
    after = await profile(db, lead_id)
    assert after.qualified_at == first.payload.qualified_at  # the first qualification stays the first
    assert after.requalified_at is not None
    assert (after.returned_to_nurture_at, after.qualification_round) == (None, 2)


async def test_no_re_mql_inside_the_cool_down(db: Database) -> None:
    lead_id = uuid.uuid4()
    await score(db, ingested(lead_id, minutes_ago=20 * DAY_MINUTES, form_id="demo-request"))
    await hand_back(db, lead_id, days_ago=10, outcome="rejected", code="unresponsive")
    assert (await profile(db, lead_id)).nurture_reason == "no answer after six attempts"

    await score(db, ingested(lead_id, minutes_ago=1, form_id="contact-sales"))

    assert [q.payload.round for q in await qualifications(db, lead_id)] == [1]


async def test_a_lead_never_handed_back_qualifies_once(db: Database) -> None:
    lead_id = uuid.uuid4()
    await score(db, ingested(lead_id, minutes_ago=60 * DAY_MINUTES, form_id="demo-request"))
    await hand_back(db, lead_id, days_ago=50, outcome="rejected", code="student")
    await score(db, ingested(lead_id, minutes_ago=1, form_id="contact-sales"))
    assert [q.payload.round for q in await qualifications(db, lead_id)] == [1]


async def test_a_consumer_batch_requalifies_as_one_event_would(db: Database) -> None:
    lead_id = uuid.uuid4()
    await score(db, ingested(lead_id, minutes_ago=45 * DAY_MINUTES, form_id="demo-request"), batched=True)
    await hand_back(db, lead_id, days_ago=40)
    await score(db, ingested(lead_id, minutes_ago=1, form_id="contact-sales"), batched=True)
    assert [(q.payload.requalification, q.payload.round) for q in await qualifications(db, lead_id)] == [
        (False, 1),
        (True, 2),
    ]
