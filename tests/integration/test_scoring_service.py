"""The replay guarantee, through the handler and the consumer wrapper against the real database."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import text

from services.scoring import service
from services.scoring.agreement import ActiveRubric
from services.scoring.consumers import build_handlers
from services.scoring.models import processed_event
from services.scoring.rubric import Rubric, load_rubric
from shared.contracts import (
    Envelope,
    LeadDispositioned,
    LeadDispositionedPayload,
    LeadIngested,
    LeadIngestedPayload,
    utc_now,
)
from shared.db import Database
from shared.kafka import EventConsumer
from tests.conftest import Infra

RUBRIC = load_rubric()


def ingested(
    lead_id: uuid.UUID, *, minutes_ago: float = 0, form_id: str = "newsletter", **fields: Any
) -> LeadIngested:
    at = utc_now() - timedelta(minutes=minutes_ago)
    payload = LeadIngestedPayload(
        source="form", form_id=form_id, email=f"{lead_id}@acme.io", submitted_at=at, **fields
    )
    return LeadIngested.new(lead_id=lead_id, payload=payload, producer="test", occurred_at=at)


async def score(db: Database, event: LeadIngested, rubric: Rubric = RUBRIC) -> Any:
    async with db.transaction() as session:
        return await service.score_lead(session, rubric=rubric, event=event)


async def rows(db: Database, sql: str, lead_id: uuid.UUID) -> list[Any]:
    async with db.transaction() as session:
        return list((await session.execute(text(sql), {"id": lead_id, "key": str(lead_id)})).all())


async def truncate_scoring(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(
            text(
                "TRUNCATE scoring.score, scoring.activity, scoring.lead_profile, scoring.outbox, scoring.processed_event"
            )
        )


class TestScoreLeadReplay:
    async def test_the_same_event_twice_is_scored_once(self, db: Database) -> None:
        lead_id = uuid.uuid4()
        event = ingested(lead_id, form_id="demo-request")
        assert await score(db, event) is not None
        assert await score(db, event) is None
        assert len(await rows(db, "SELECT id FROM scoring.score WHERE lead_id = :id", lead_id)) == 1
        outbox = await rows(db, "SELECT event_type FROM scoring.outbox WHERE key = :key ORDER BY id", lead_id)
        assert [r.event_type for r in outbox] == ["lead.scored", "lead.qualified"]

    async def test_replaying_history_gives_the_same_scores(self, db: Database) -> None:
        lead_id = uuid.uuid4()
        history = [
            ingested(lead_id, minutes_ago=60 * 24 * 40, job_title="Manager", company_size=300),
            ingested(lead_id, minutes_ago=60 * 24 * 10, form_id="ebook-guide", country="US"),
            ingested(lead_id, minutes_ago=5, form_id="webinar-signup"),
        ]
        first = [await score(db, e) for e in history]
        await truncate_scoring(db)
        second = [await score(db, e) for e in history]
        assert first == second
        assert any(r.decay_factor < 1 for r in first[-1].fired_rules)

    async def test_an_old_event_processed_late_does_not_overwrite_newer_fields(self, db: Database) -> None:
        lead_id = uuid.uuid4()
        await score(db, ingested(lead_id, minutes_ago=1, job_title="VP Sales"))
        late = await score(db, ingested(lead_id, minutes_ago=30, job_title="Intern", company="Acme"))
        (profile,) = await rows(
            db, "SELECT job_title, company FROM scoring.lead_profile WHERE lead_id = :id", lead_id
        )
        assert (profile.job_title, profile.company) == ("VP Sales", "Acme")
        # Scored as of its own time, the late event does not see the newer activity.
        assert late.engagement_score == 10

    async def test_a_lead_qualifies_once_ever(self, db: Database) -> None:
        lead_id = uuid.uuid4()
        await score(db, ingested(lead_id, minutes_ago=2, form_id="demo-request"))
        again = await score(db, ingested(lead_id, minutes_ago=1, form_id="contact-sales"))
        assert again.is_mql
        qualified = await rows(
            db, "SELECT id FROM scoring.outbox WHERE key = :key AND event_type = 'lead.qualified'", lead_id
        )
        assert len(qualified) == 1


@pytest.fixture
async def consumer(db: Database, settings_env: Infra) -> EventConsumer:
    return EventConsumer(
        bootstrap_servers=settings_env.kafka_bootstrap_servers,
        group_id="baton-scoring-test",
        handlers=build_handlers(ActiveRubric(RUBRIC)),
        db=db,
        processed_table=processed_event,
    )


def record(event: Envelope, offset: int, *, topic: str = "lead.ingested") -> ConsumerRecord[bytes, bytes]:
    value = event.to_bytes()
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=event.key,
        value=value,
        checksum=None,
        serialized_key_size=len(event.key),
        serialized_value_size=len(value),
        headers=[],
    )


class TestConsumerRedelivery:
    async def test_redelivered_message_is_a_duplicate_and_changes_nothing(
        self, db: Database, consumer: EventConsumer
    ) -> None:
        lead_id = uuid.uuid4()
        event = ingested(lead_id, form_id="demo-request")
        assert await consumer.handle_record(record(event, 0)) == "processed"
        before = await rows(db, "SELECT * FROM scoring.outbox WHERE key = :key ORDER BY id", lead_id)
        assert await consumer.handle_record(record(event, 1)) == "duplicate"
        after = await rows(db, "SELECT * FROM scoring.outbox WHERE key = :key ORDER BY id", lead_id)
        assert before == after
        assert len(await rows(db, "SELECT id FROM scoring.score WHERE lead_id = :id", lead_id)) == 1


class TestCurrentScore:
    async def test_reading_as_of_now_applies_the_decay_since_the_last_event(self, db: Database) -> None:
        lead_id = uuid.uuid4()
        stored = await score(db, ingested(lead_id, minutes_ago=60 * 24 * 30, company="Acme"))
        async with db.transaction() as session:
            current = await service.get_current_score(session, rubric=RUBRIC, lead_id=lead_id, now=utc_now())
            last = await service.get_score(session, lead_id=lead_id)
        assert last.engagement_score == stored.engagement_score == 10
        assert current.engagement_score == 5
        assert current.fit_score == last.fit_score
        assert "decayed to 50%" in current.explanation


class TestBacktestDraft:
    async def test_draft_is_replayed_over_stored_leads(self, db: Database) -> None:
        demo, contact, quiet = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await score(db, ingested(demo, minutes_ago=3, form_id="demo-request"))
        await score(db, ingested(contact, minutes_ago=2, form_id="contact-sales"))
        await score(db, ingested(quiet, minutes_ago=1))
        document = RUBRIC.model_dump(mode="json")
        document["version"] = "draft"
        document["qualification"]["hand_raiser_forms"] = ["demo-request"]
        async with db.transaction() as session:
            report = await service.backtest_draft(
                session, active=RUBRIC, draft=Rubric.from_document(document), max_leads=10, batch_size=2
            )
        assert report.leads == 3
        assert (report.active.mqls, report.draft.mqls) == (2, 1)
        assert report.dropped_out_sample == [contact]

    async def test_max_leads_bounds_the_replay(self, db: Database) -> None:
        for _ in range(3):
            await score(db, ingested(uuid.uuid4()))
        async with db.transaction() as session:
            report = await service.backtest_draft(
                session, active=RUBRIC, draft=RUBRIC, max_leads=2, batch_size=1
            )
        assert report.leads == 2


class TestDispositions:
    async def test_dispositions_are_kept_once_and_feed_the_backtest(
        self, db: Database, consumer: EventConsumer
    ) -> None:
        lead_id = uuid.uuid4()
        event = ingested(lead_id, form_id="demo-request")
        assert await consumer.handle_record(record(event, 0)) == "processed"
        verdict = LeadDispositioned.new(
            lead_id=lead_id,
            producer="routing",
            payload=LeadDispositionedPayload(
                assignment_id=uuid.uuid4(), rep_id=uuid.uuid4(), outcome="sql", dispositioned_at=utc_now()
            ),
        )
        assert await consumer.handle_record(record(verdict, 1, topic="lead.dispositioned")) == "processed"
        assert await consumer.handle_record(record(verdict, 2, topic="lead.dispositioned")) == "duplicate"
        async with db.transaction() as session:
            report = await service.backtest_draft(session, active=RUBRIC, draft=RUBRIC, max_leads=10)
        assert report.leads_with_good_outcome == 1
        assert (report.active.precision, report.active.recall, report.active.mql_to_sql_rate) == (1, 1, 1)
