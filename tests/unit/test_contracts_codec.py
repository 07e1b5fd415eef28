"""The envelope and the decoder: what goes on the wire and what a consumer will accept."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.contracts import (
    LeadIngested,
    LeadIngestedPayload,
    LeadQualified,
    UndecodableEvent,
    codec,
    decode_event,
    utc_now,
)
from shared.contracts.topics import dead_letter_topic, topic_for


def ingested(lead_id: uuid.UUID | None = None) -> LeadIngested:
    return LeadIngested.new(
        lead_id=lead_id or uuid.uuid4(),
        payload=LeadIngestedPayload(source="form", email="a@example.com", submitted_at=utc_now()),
        producer="ingest",
    )


class TestEnvelope:
    def test_first_event_starts_its_own_correlation(self) -> None:
        event = ingested()
        assert event.correlation_id == event.event_id
        assert event.causation_id is None

    def test_caused_event_inherits_correlation_and_names_its_cause(self) -> None:
        cause = ingested()
        effect = LeadIngested.new(lead_id=cause.lead_id, payload=cause.payload, producer="x", caused_by=cause)
        assert effect.correlation_id == cause.correlation_id
        assert effect.causation_id == cause.event_id

    def test_key_is_the_lead_id(self) -> None:
        lead_id = uuid.uuid4()
        assert ingested(lead_id).key == str(lead_id).encode()

    def test_round_trip_through_bytes(self) -> None:
        event = ingested()
        assert decode_event(event.to_bytes()) == event


class TestDecode:
    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            (None, "no value"),
            (b"\xff\xfe", "not JSON"),
            (b"{not json", "not JSON"),
            (b"[1, 2]", "not a JSON object"),
            (b'{"event_type": "lead.teleported"}', "unknown event type"),
        ],
    )
    def test_undecodable_values_are_refused_with_the_reason(self, value: bytes | None, reason: str) -> None:
        with pytest.raises(UndecodableEvent, match=reason):
            decode_event(value)

    def test_newer_schema_version_than_known_is_refused(self) -> None:
        raw = json.loads(ingested().to_bytes())
        raw["schema_version"] = 99
        with pytest.raises(UndecodableEvent, match="newer"):
            decode_event(json.dumps(raw).encode())

    def test_missing_payload_field_is_refused(self) -> None:
        raw = json.loads(ingested().to_bytes())
        del raw["payload"]["submitted_at"]  # required (email is optional since issue 14)
        with pytest.raises(UndecodableEvent, match="invalid event"):
            decode_event(json.dumps(raw).encode())

    def test_unknown_fields_are_ignored(self) -> None:
        raw = json.loads(ingested().to_bytes())
        raw["added_later"] = True
        raw["payload"]["also_new"] = 1
        assert isinstance(decode_event(json.dumps(raw).encode()), LeadIngested)

    def test_old_version_is_upcast_before_validation(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def upcast_v1_v2(raw: dict[str, object]) -> dict[str, object]:
            payload = dict(raw["payload"])  # type: ignore[call-overload]
            payload["email"] = payload.pop("mail")
            return {**raw, "payload": payload}

        monkeypatch.setitem(codec.CURRENT_VERSIONS, "lead.ingested", 2)
        monkeypatch.setitem(codec.UPCASTERS, ("lead.ingested", 1), upcast_v1_v2)
        raw = json.loads(ingested().to_bytes())
        raw["payload"]["mail"] = raw["payload"].pop("email")
        event = decode_event(json.dumps(raw).encode())
        assert event.payload.email == "a@example.com"  # type: ignore[union-attr]
        assert event.schema_version == 2


class TestTopics:
    def test_each_event_type_has_its_topic(self) -> None:
        assert topic_for(LeadQualified.model_fields["event_type"].default) == "lead.qualified"

    def test_unknown_event_type_has_no_topic(self) -> None:
        with pytest.raises(KeyError):
            topic_for("lead.teleported")

    def test_dead_letter_topic_is_per_consumer_group(self) -> None:
        assert dead_letter_topic("baton-scoring") == "baton-scoring.dlq"
