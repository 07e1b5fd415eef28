"""What a score leaves behind: the score row's explanation is the one its `lead.scored` carries."""

from __future__ import annotations

import uuid
from datetime import timedelta

from pydantic_core import from_json

from services.scoring.evaluation import Activity, Profile
from services.scoring.records import fired_rules_json, scored_event
from services.scoring.rubric import load_rubric
from shared.contracts import utc_now


def encoded_scored(persona: str | None) -> bytes:
    now = utc_now()
    profile = Profile(email="ada@example.com", company_size=200, industry="software", job_title="CTO")
    activities = [
        Activity(type="page_view", occurred_at=now - timedelta(days=days), properties={"path": "/pricing"})
        for days in range(3)
    ]
    evaluation = load_rubric().evaluate(profile, activities, now=now)
    return scored_event(uuid.uuid4(), evaluation, caused_by=None, persona=persona).to_bytes()


class TestFiredRulesJson:
    def test_the_slice_is_the_events_fired_rules(self) -> None:
        value = encoded_scored(persona=None)
        assert from_json(fired_rules_json(value)) == from_json(value)["payload"]["fired_rules"]

    def test_a_persona_that_quotes_a_key_does_not_move_the_slice(self) -> None:
        value = encoded_scored(persona='founder","persona":"x')
        assert from_json(fired_rules_json(value)) == from_json(value)["payload"]["fired_rules"]

    def test_another_layout_falls_back_to_the_parsed_event(self) -> None:
        value = b'{"payload":{"persona":null,"fired_rules":[{"rule_id":"a"}]}}'
        assert from_json(fired_rules_json(value)) == [{"rule_id": "a"}]
