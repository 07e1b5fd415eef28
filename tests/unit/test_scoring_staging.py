"""A scored round's outbox rows: `lead.scored` encoded straight to bytes is the event pydantic writes."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydantic_core import from_json
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.evaluation import Activity, Evaluation, Profile
from services.scoring.records import scored_event
from services.scoring.rubric import load_rubric
from services.scoring.staging import RoundOutbox, scored_value
from shared.contracts import (
    LeadIngested,
    LeadIngestedPayload,
    LeadScored,
    decode_event,
    utc_now,
    version_7_id,
)
from shared.outbox import TRACE_HEADERS_BY_CAUSE, outbox_columns


def evaluation_of(days: int = 3) -> Evaluation:
    now = utc_now()
    profile = Profile(email="ada@example.com", company_size=200, industry="software", job_title="CTO")
    activities = [
        Activity(
            type="page_view", occurred_at=now - timedelta(days=d, hours=5), properties={"path": "/pricing"}
        )
        for d in range(days)
    ]
    return load_rubric().evaluate(profile, activities, now=now)


def cause() -> LeadIngested:
    payload = LeadIngestedPayload(email="ada@example.com", source="web", submitted_at=utc_now())
    return LeadIngested.new(lead_id=uuid.uuid4(), payload=payload, producer="ingest")


def session_with(info: dict[str, Any]) -> AsyncSession:
    return cast(AsyncSession, SimpleNamespace(info=info))


class TestScoredValue:
    @pytest.mark.parametrize("persona", [None, "founder", 'a "quoted" persona'])
    @pytest.mark.parametrize("days", [0, 1, 5])
    def test_the_bytes_are_those_pydantic_writes(self, persona: str | None, days: int) -> None:
        value, event = both_ways(evaluation_of(days), persona)
        assert value == event.to_bytes()

    def test_whole_numbers_are_written_as_floats(self) -> None:
        value, event = both_ways(replace(evaluation_of(0), score=0, fit_score=0, engagement_score=0), None)
        assert value == event.to_bytes()
        assert isinstance(decode_event(value), LeadScored)


def both_ways(evaluation: Any, persona: str | None) -> tuple[bytes, LeadScored]:
    """A `lead.scored` written straight to bytes, and the same event built by pydantic."""
    caused_by = cause()
    event = scored_event(caused_by.lead_id, evaluation, caused_by=caused_by, persona=persona)
    value = scored_value(
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        lead_id=caused_by.lead_id,
        evaluation=evaluation,
        caused_by=caused_by,
        persona=persona,
    )
    return value, event


class TestRoundOutbox:
    def test_a_scored_row_is_the_row_outbox_columns_builds(self) -> None:
        evaluation, caused_by = evaluation_of(), cause()
        staged = RoundOutbox(session_with({}))
        assert staged.add_scored(caused_by.lead_id, evaluation, caused_by=caused_by, persona="founder") == 0
        row = {name: values[0] for name, values in staged.columns.items()}
        event = decode_event(row["value"])
        assert isinstance(event, LeadScored)
        assert event.causation_id == caused_by.event_id
        assert event.correlation_id == caused_by.correlation_id
        expected = {name: values[0] for name, values in outbox_columns([event]).items()}
        assert row == expected

    def test_a_scored_row_continues_the_trace_of_its_cause(self) -> None:
        caused_by, trace = cause(), {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
        staged = RoundOutbox(session_with({TRACE_HEADERS_BY_CAUSE: {caused_by.event_id: trace}}))
        staged.add_scored(caused_by.lead_id, evaluation_of(), caused_by=caused_by, persona=None)
        assert from_json(staged.columns["headers"][0])["traceparent"] == trace["traceparent"]

    def test_other_events_keep_their_place_in_the_round(self) -> None:
        first, second = cause(), cause()
        staged = RoundOutbox(session_with({}))
        staged.add_scored(first.lead_id, evaluation_of(), caused_by=first, persona=None)
        staged.add(second)
        staged.add_scored(second.lead_id, evaluation_of(), caused_by=second, persona=None)
        assert staged.columns["event_type"] == ["lead.scored", "lead.ingested", "lead.scored"]
        assert staged.columns["event_id"][1] == second.event_id
        assert {len(values) for values in staged.columns.values()} == {3}


class TestEventIds:
    def test_an_id_is_the_version_7_id_of_the_clock_and_the_random_bytes(self) -> None:
        random = bytes(range(10))
        event_id = version_7_id(0x0123456789AB, random)
        assert (event_id.version, event_id.variant) == (7, uuid.RFC_4122)
        assert event_id.int >> 80 == 0x0123456789AB
        # The 74 random bits: 12 after the version, 62 after the variant.
        bits = int.from_bytes(random)
        assert (event_id.int >> 64 & 0xFFF, event_id.int & (1 << 62) - 1) == (
            bits >> 62 & 0xFFF,
            bits & (1 << 62) - 1,
        )

    def test_a_round_draws_distinct_version_7_ids_in_the_order_of_the_clock(self) -> None:
        staged, caused_by = RoundOutbox(session_with({})), cause()
        evaluation = evaluation_of(0)  # loads the starter rubric: once, not per event
        before_ms = time.time_ns() // 1_000_000
        for _ in range(300):
            staged.add_scored(caused_by.lead_id, evaluation, caused_by=caused_by, persona=None)
        ids = staged.columns["event_id"]
        assert len(set(ids)) == 300
        assert {(i.version, i.variant) for i in ids} == {(7, uuid.RFC_4122)}
        milliseconds = [i.int >> 80 for i in ids]
        assert milliseconds == sorted(milliseconds)
        assert milliseconds[0] >= before_ms
