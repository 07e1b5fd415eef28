"""Sealing a lead's personal fields with its key, and reading them back or as erased."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from shared.contracts import ActivityRecorded, LeadIngested, LeadQualified, decode_event
from shared.sealing import KeyRingNotLoaded, SealBroken, new_key, open_event, seal_event, seal_with

CONTRACTS = Path(__file__).parent.parent / "contracts"
# The key the `*.sealed.json` fixtures were sealed with.
FIXTURE_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
PERSONAL = ("ada@example.com", "Ada", "Lovelace")


def _fixture(name: str) -> bytes:
    return (CONTRACTS / name).read_bytes()


class _Ring:
    def __init__(
        self, keys: dict[uuid.UUID, bytes], erased: set[uuid.UUID] | None = None, *, loaded: bool = True
    ) -> None:
        self.keys = keys
        self.gone = erased or set()
        self.loaded = loaded

    def get(self, lead_id: uuid.UUID) -> bytes | None:
        return self.keys.get(lead_id)

    def erased(self, lead_id: uuid.UUID) -> bool:
        return lead_id in self.gone


class TestSealEvent:
    def test_sealed_event_carries_no_personal_field_in_clear(self) -> None:
        event = decode_event(_fixture("lead.ingested.v1.json"))
        wire = seal_event(event, new_key()).to_bytes()
        for value in PERSONAL:
            assert value.encode() not in wire

    def test_sealed_event_opens_with_its_key_to_the_original(self) -> None:
        for name in (
            "lead.ingested.v1.json",
            "activity.recorded.v1.json",
            "lead.qualified.v1.json",
            "lead.touched.v1.json",
            "lead.dispositioned.v1.reason-codes.json",
        ):
            event = decode_event(_fixture(name))
            key = new_key()
            assert open_event(seal_event(event, key), key) == event

    def test_sealing_twice_changes_nothing_more(self) -> None:
        event = decode_event(_fixture("activity.recorded.v1.json"))
        key = new_key()
        once = seal_event(event, key)
        assert seal_event(once, key) == once

    def test_event_without_personal_fields_is_unchanged(self) -> None:
        event = decode_event(_fixture("lead.scored.v1.json"))
        assert seal_event(event, new_key()) is event


class TestOpenEvent:
    def test_released_sealed_fixtures_open_with_their_key(self) -> None:
        ingested = open_event(decode_event(_fixture("lead.ingested.v1.sealed.json")), FIXTURE_KEY)
        activity = open_event(decode_event(_fixture("activity.recorded.v1.sealed.json")), FIXTURE_KEY)
        qualified = open_event(decode_event(_fixture("lead.qualified.v1.sealed.json")), FIXTURE_KEY)
        assert isinstance(ingested, LeadIngested)
        assert isinstance(activity, ActivityRecorded)
        assert isinstance(qualified, LeadQualified)
        assert ingested == decode_event(_fixture("lead.ingested.v1.json"))
        assert activity == decode_event(_fixture("activity.recorded.v1.json"))
        assert qualified.payload.lead == decode_event(_fixture("lead.qualified.v1.json")).payload.lead  # type: ignore[union-attr]

    def test_released_sealed_rep_notes_open_with_their_key(self) -> None:
        touched = open_event(decode_event(_fixture("lead.touched.v1.sealed.json")), FIXTURE_KEY)
        dispositioned = open_event(decode_event(_fixture("lead.dispositioned.v1.sealed.json")), FIXTURE_KEY)
        assert touched == decode_event(_fixture("lead.touched.v1.json"))
        assert dispositioned == decode_event(_fixture("lead.dispositioned.v1.reason-codes.json"))

    def test_without_a_key_the_lead_reads_as_erased(self) -> None:
        ingested = open_event(decode_event(_fixture("lead.ingested.v1.sealed.json")), None)
        activity = open_event(decode_event(_fixture("activity.recorded.v1.sealed.json")), None)
        assert isinstance(ingested, LeadIngested)
        assert isinstance(activity, ActivityRecorded)
        assert (ingested.payload.email, ingested.payload.first_name, ingested.payload.sealed) == (
            None,
            None,
            None,
        )
        assert ingested.payload.company == "Analytical Engines"
        assert activity.payload.email == ""

    def test_another_key_is_refused(self) -> None:
        sealed = decode_event(_fixture("lead.ingested.v1.sealed.json"))
        with pytest.raises(SealBroken):
            open_event(sealed, new_key())

    def test_a_seal_moved_to_another_lead_is_refused(self) -> None:
        sealed = decode_event(_fixture("lead.ingested.v1.sealed.json"))
        moved = sealed.model_copy(update={"lead_id": uuid.uuid4()})
        with pytest.raises(SealBroken):
            open_event(moved, FIXTURE_KEY)


class TestSealWith:
    def test_an_erased_lead_goes_out_blank_not_in_clear(self) -> None:
        event = decode_event(_fixture("lead.qualified.v1.json"))
        wire = seal_with(_Ring({}, {event.lead_id}), event).to_bytes()
        for value in PERSONAL:
            assert value.encode() not in wire

    def test_a_lead_that_never_had_a_key_goes_out_as_it_came(self) -> None:
        event = decode_event(_fixture("lead.qualified.v1.json"))
        assert seal_with(_Ring({}), event) is event

    def test_a_ring_still_loading_refuses_an_unknown_lead_rather_than_send_it_in_clear(self) -> None:
        event = decode_event(_fixture("lead.qualified.v1.json"))
        with pytest.raises(KeyRingNotLoaded):
            seal_with(_Ring({}, loaded=False), event)

    def test_a_known_lead_is_sealed_with_its_key(self) -> None:
        event = decode_event(_fixture("lead.qualified.v1.json"))
        key = new_key()
        assert open_event(seal_with(_Ring({event.lead_id: key}), event), key) == event
