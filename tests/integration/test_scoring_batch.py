"""Scoring a consumer's batch at once has the effect of scoring its events one by one."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from services.scoring import batch, service
from services.scoring.lead_cache import LeadHistories
from services.scoring.rubric import load_rubric
from shared.contracts import (
    ActivityRecorded,
    ActivityRecordedPayload,
    LeadIngested,
    LeadIngestedPayload,
    utc_now,
)
from shared.db import Database

RUBRIC = load_rubric()
START = utc_now() - timedelta(days=10)


def script(lead_ids: list[uuid.UUID]) -> list[LeadIngested | ActivityRecorded]:
    """The same story for each set of leads: several events per lead, one of them late (older
    than the one before it), a hand-raiser that qualifies, and a page view that changes nothing."""
    first, second, third = lead_ids
    events: list[LeadIngested | ActivityRecorded] = []

    def ingested(lead: uuid.UUID, days: float, form_id: str, **fields: Any) -> None:
        at = START + timedelta(days=days)
        payload = LeadIngestedPayload(
            source="form", form_id=form_id, email=f"{lead}@acme.io", submitted_at=at, **fields
        )
        events.append(LeadIngested.new(lead_id=lead, payload=payload, producer="test", occurred_at=at))

    def activity(lead: uuid.UUID, days: float, kind: str, **properties: str) -> None:
        at = START + timedelta(days=days)
        payload = ActivityRecordedPayload(
            activity_type=kind, occurred_at=at, email=f"{lead}@acme.io", source="test", properties=properties
        )
        events.append(ActivityRecorded.new(lead_id=lead, payload=payload, producer="test", occurred_at=at))

    ingested(first, 1, "newsletter", job_title="VP Sales", company_size=800, country="US")
    ingested(second, 1, "ebook-pipeline", job_title="Student")
    activity(first, 2, "page_view", page_path="/pricing")
    ingested(first, 3, "demo-request")
    activity(first, 2.5, "webinar_attended", webinar_id="w")  # arrives after a later event
    ingested(third, 4, "contact-sales", company="Initech", industry="SaaS")
    activity(second, 5, "page_view", page_path="/docs")
    ingested(first, 6, "newsletter", job_title="Chief Revenue Officer")
    return events


async def outcome(db: Database, lead_ids: list[uuid.UUID]) -> list[Any]:
    async with db.transaction() as session:
        scores = (
            await session.execute(
                text(
                    "SELECT lead_id, score, fit_score, engagement_score, grade, is_mql, fired_rules, scored_at "
                    "FROM scoring.score WHERE lead_id = ANY(:ids) ORDER BY id"
                ),
                {"ids": lead_ids},
            )
        ).all()
        events = (
            await session.execute(
                text("SELECT key, event_type FROM scoring.outbox WHERE key = ANY(:keys) ORDER BY id"),
                {"keys": [str(i) for i in lead_ids]},
            )
        ).all()
        profiles = (
            await session.execute(
                text(
                    "SELECT lead_id, job_title, qualified_at, qualification_reason FROM scoring.lead_profile "
                    "WHERE lead_id = ANY(:ids)"
                ),
                {"ids": lead_ids},
            )
        ).all()
    rename = {lead: i for i, lead in enumerate(lead_ids)}
    per_lead: dict[int, list[Any]] = {i: [] for i in range(len(lead_ids))}
    for row in scores:
        per_lead[rename[row.lead_id]].append(tuple(row)[1:])
    for key, event_type in events:
        per_lead[rename[uuid.UUID(key)]].append(event_type)
    for row in profiles:
        per_lead[rename[row.lead_id]].append(tuple(row)[1:])
    return [per_lead[i] for i in range(len(lead_ids))]


async def score_alone(db: Database, event: LeadIngested | ActivityRecorded) -> None:
    async with db.transaction() as session:
        if isinstance(event, LeadIngested):
            await service.score_lead(session, rubric=RUBRIC, event=event)
        else:
            await service.score_activity(session, rubric=RUBRIC, event=event)


class TestScoreEvents:
    async def test_a_batch_scores_as_its_events_one_by_one(self, db: Database) -> None:
        alone, together = [uuid.uuid4() for _ in range(3)], [uuid.uuid4() for _ in range(3)]
        for event in script(alone):
            await score_alone(db, event)
        async with db.transaction() as session:
            await batch.score_events(session, rubric=RUBRIC, events=script(together))

        expected = await outcome(db, alone)
        assert await outcome(db, together) == expected
        assert any("lead.qualified" in lead for lead in expected)

    async def test_an_event_already_recorded_is_skipped(self, db: Database) -> None:
        leads = [uuid.uuid4() for _ in range(3)]
        events = script(leads)
        async with db.transaction() as session:
            await batch.score_events(session, rubric=RUBRIC, events=events[:3])
        before = await outcome(db, leads)
        async with db.transaction() as session:
            await batch.score_events(session, rubric=RUBRIC, events=events[:3])
        assert await outcome(db, leads) == before


class TestLeadHistoryCache:
    async def test_batches_through_the_cache_score_as_events_one_by_one(self, db: Database) -> None:
        alone, cached = [uuid.uuid4() for _ in range(3)], [uuid.uuid4() for _ in range(3)]
        for event in script(alone):
            await score_alone(db, event)
        histories = LeadHistories(max_activities=1_000)
        events = script(cached)
        for start in range(0, len(events), 2):
            async with db.transaction() as session:
                await batch.score_events(
                    session, rubric=RUBRIC, events=events[start : start + 2], cache=histories
                )
        assert await outcome(db, cached) == await outcome(db, alone)
        assert len(histories) == 3

    async def test_activities_another_consumer_recorded_meanwhile_are_read(self, db: Database) -> None:
        alone, cached = [uuid.uuid4() for _ in range(3)], [uuid.uuid4() for _ in range(3)]
        for event in script(alone):
            await score_alone(db, event)
        histories = LeadHistories(max_activities=1_000)
        events = script(cached)
        async with db.transaction() as session:
            await batch.score_events(session, rubric=RUBRIC, events=events[:3], cache=histories)
        # The lead's next submission, handled by a replica holding that topic's partition.
        await score_alone(db, events[3])
        async with db.transaction() as session:
            await batch.score_events(session, rubric=RUBRIC, events=events[4:], cache=histories)
        assert await outcome(db, cached) == await outcome(db, alone)

    async def test_a_rolled_back_batch_leaves_the_cache_as_it_was(self, db: Database) -> None:
        histories = LeadHistories(max_activities=1_000)
        events = script([uuid.uuid4() for _ in range(3)])

        async def fail_after_scoring() -> None:
            async with db.transaction() as session:
                await batch.score_events(session, rubric=RUBRIC, events=events, cache=histories)
                raise RuntimeError("the batch fails after scoring")

        with pytest.raises(RuntimeError):
            await fail_after_scoring()
        assert len(histories) == 0
