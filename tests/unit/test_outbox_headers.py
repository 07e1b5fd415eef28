"""`outbox_columns` hands `remember` the header dicts it encoded, equal to their JSON."""

from __future__ import annotations

import uuid

from pydantic_core import from_json

from shared.contracts import LeadIngested, LeadIngestedPayload, utc_now
from shared.outbox import EncodedHeaders, lead_key_columns, outbox_columns


def test_the_parsed_headers_are_the_encoded_ones() -> None:
    lead = uuid.uuid4()
    payload = LeadIngestedPayload(source="test", email=f"{lead}@example.com", submitted_at=utc_now())
    events = [LeadIngested.new(lead_id=lead, payload=payload, producer="test") for _ in range(3)]
    for columns in (
        outbox_columns(events),
        lead_key_columns([(lead, b"k" * 32), (lead, None)], at=utc_now()),
    ):
        headers = columns["headers"]
        assert isinstance(headers, EncodedHeaders)
        assert headers.parsed == [from_json(encoded) for encoded in headers]


def test_a_lead_key_record_has_a_version_7_id_like_every_event() -> None:
    columns = lead_key_columns([(uuid.uuid4(), b"k" * 32), (uuid.uuid4(), None)], at=utc_now())
    assert [event_id.version for event_id in columns["event_id"]] == [7, 7]
