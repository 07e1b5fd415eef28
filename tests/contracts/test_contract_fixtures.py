"""Every event, at every schema version ever published, must still parse (STYLE.md 6).

A fixture is never edited after release: a breaking change adds a new `<type>.v<N>.json`
and an upcaster, and this test proves the old bytes still decode.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.contracts import decode_event
from shared.contracts.events import CURRENT_VERSIONS

FIXTURES = sorted(Path(__file__).parent.glob("*.v*.json"))


def test_there_is_a_fixture_for_every_current_event_version() -> None:
    present = {path.name for path in FIXTURES}
    expected = {f"{event_type}.v{version}.json" for event_type, version in CURRENT_VERSIONS.items()}
    assert expected <= present


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_still_parses(path: Path) -> None:
    raw = json.loads(path.read_text())
    event = decode_event(path.read_bytes())
    assert event.event_type == raw["event_type"]
    assert event.schema_version == CURRENT_VERSIONS[event.event_type]
    assert str(event.event_id) == raw["event_id"]
