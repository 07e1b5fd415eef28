"""Feedback and the agreement: a re-MQL is counted as one, apart from the lead's first
qualification; the funnel groups by the agreement's persona."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.feedback import service
from services.feedback.consumers import build_handlers
from services.feedback.repository import FactFilter
from shared.contracts import (
    Envelope,
    LeadIngested,
    LeadIngestedPayload,
    LeadQualified,
    LeadQualifiedPayload,
    LeadScored,
    LeadScoredPayload,
    LeadSnapshot,
)
from shared.db import Database

HANDLERS = build_handlers()
T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def ingested(lead_id: uuid.UUID) -> LeadIngested:
    payload = LeadIngestedPayload(source="form", email=f"{lead_id}@acme.io", submitted_at=T0)
    return LeadIngested.new(lead_id=lead_id, producer="ingest", payload=payload, occurred_at=T0)


def scored(lead_id: uuid.UUID, persona: str | None) -> LeadScored:
    payload = LeadScoredPayload(
        rubric_version="2027.q1",
        score=80,
        fit_score=50,
        engagement_score=30,
        grade="A",
        is_mql=False,
        persona=persona,
    )
    return LeadScored.new(lead_id=lead_id, producer="scoring", payload=payload, occurred_at=T0)


def qualified(lead_id: uuid.UUID, at: datetime, round_: int = 1) -> LeadQualified:
    payload = LeadQualifiedPayload(
        rubric_version="2027.q1",
        score=80,
        grade="A",
        reason="threshold",
        sla_tier="A",
        sla_minutes=5,
        qualified_at=at,
        lead=LeadSnapshot(email=f"{lead_id}@acme.io"),
        requalification=round_ > 1,
        round=round_,
    )
    return LeadQualified.new(lead_id=lead_id, producer="scoring", payload=payload, occurred_at=at)


async def apply(db: Database, *events: Envelope) -> None:
    for event in [*events, *events]:  # every event redelivered once
        async with db.transaction() as session:
            await HANDLERS[event.event_type](session, event)


async def test_a_re_mql_is_counted_as_one_never_as_a_new_mql(db: Database) -> None:
    back, once = uuid.uuid4(), uuid.uuid4()
    first_at, again_at = T0 + timedelta(minutes=1), T0 + timedelta(days=45)
    await apply(
        db,
        ingested(back),
        qualified(back, first_at),
        qualified(back, again_at, round_=2),
        ingested(once),
        qualified(once, first_at),
    )
    async with db.transaction() as session:
        months = await service.mql_delivery(session, FactFilter(), monthly_target=None)
        funnel = await service.funnel_report(session, FactFilter())
    assert [(m.month, m.mqls, m.re_mqls) for m in months] == [("2026-10", 2, 0), ("2026-11", 0, 1)]
    assert {s.stage.value: s.count for s in funnel.stages}["mql"] == 2


async def test_the_funnel_groups_by_persona(db: Database) -> None:
    leads = [(uuid.uuid4(), "revops-leader"), (uuid.uuid4(), "revops-leader"), (uuid.uuid4(), None)]
    for lead_id, persona in leads:
        await apply(db, ingested(lead_id), scored(lead_id, persona))
    await apply(db, qualified(leads[0][0], T0 + timedelta(minutes=1)))
    async with db.transaction() as session:
        groups = await service.funnel_by(session, FactFilter(), by="persona")
    counts = {g.key: {s.stage.value: s.count for s in g.funnel.stages} for g in groups}
    assert (counts["revops-leader"]["ingested"], counts["revops-leader"]["mql"]) == (2, 1)
    assert (counts[None]["ingested"], counts[None]["mql"]) == (1, 0)
