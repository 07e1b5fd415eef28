"""Decoding events off the wire: upcast old versions, then validate against the union."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from shared.contracts.events import CURRENT_VERSIONS, AnyEvent

RawEvent = dict[str, Any]
Upcaster = Callable[[RawEvent], RawEvent]

# (event_type, from_version) -> function returning the event at from_version + 1.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}

_adapter: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


class UndecodableEvent(ValueError):
    """The bytes are not a Baton event this code can understand; retrying will not help."""


def upcast(raw: RawEvent) -> RawEvent:
    event_type = raw.get("event_type")
    if not isinstance(event_type, str) or event_type not in CURRENT_VERSIONS:
        raise UndecodableEvent(f"unknown event type {event_type!r}")
    version = raw.get("schema_version", 1)
    if not isinstance(version, int):
        raise UndecodableEvent(f"schema_version must be an integer, got {version!r}")
    target = CURRENT_VERSIONS[event_type]
    if version > target:
        raise UndecodableEvent(
            f"{event_type} schema_version {version} is newer than this consumer knows ({target})"
        )
    while version < target:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise UndecodableEvent(f"no upcaster for {event_type} v{version}")
        raw = step(raw)
        version += 1
        raw["schema_version"] = version
    return raw


def decode_event(value: bytes | None) -> AnyEvent:
    """Parse one Kafka message value into a typed event, or raise `UndecodableEvent`."""
    if value is None:
        raise UndecodableEvent("message has no value")
    # The common case in one step: pydantic parses the JSON straight into the model. Anything
    # else (an older version to upcast, a newer one, bad input) takes the path that explains.
    try:
        event = _adapter.validate_json(value)
    except ValidationError:
        pass
    else:
        if event.schema_version == CURRENT_VERSIONS.get(event.event_type):
            return event
    try:
        raw = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UndecodableEvent(f"value is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise UndecodableEvent("value is not a JSON object")
    try:
        return _adapter.validate_python(upcast(raw))
    except ValidationError as exc:
        raise UndecodableEvent(f"invalid event: {exc}") from exc
