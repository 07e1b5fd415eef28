"""Crypto-shredding: a lead's personal fields travel in events sealed with a key of its own.

Ingest issues one AES-256-GCM key per lead on the compacted `lead.key_changed` topic before any
event sealed with it, and erasure replaces it with a tombstone: every copy of the event on
Kafka, in a dead-letter topic or in a backup then holds ciphertext nobody can open
(docs/erasure.md). Pure: events and keys in, events out.
"""

from __future__ import annotations

import base64
import os
import uuid
from typing import Any, Final, Protocol, TypeVar

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel
from pydantic_core import from_json, to_json

from shared.contracts import Envelope, LeadQualified, Payload

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
VERSION: Final = "v1."
# Which fields of which event are the person's, and what each reads as once sealed or erased.
PERSONAL_FIELDS: Final[dict[str, dict[str, str | None]]] = {
    "lead.ingested": {"email": None, "first_name": None, "last_name": None, "phone": None},
    "activity.recorded": {"email": ""},
    "lead.qualified": {"email": None, "first_name": None, "last_name": None},
    # A rep's free text may quote the lead.
    "lead.touched": {"note": None},
    "lead.dispositioned": {"reason": None},
}
# Where the session's key ring lives (`Session.info`), for events staged through the outbox.
SESSION_KEY_RING: Final = "baton.lead_keys"

E = TypeVar("E", bound=Envelope)


class KeyRing(Protocol):
    """The lead keys a service knows."""

    def get(self, lead_id: uuid.UUID) -> bytes | None:
        """The lead's key; None for a lead erased, or never known."""

    def erased(self, lead_id: uuid.UUID) -> bool:
        """Whether the lead's key was destroyed (its tombstone seen)."""

    @property
    def loaded(self) -> bool:
        """Whether every key issued before the ring started has been read."""


class KeyRingNotLoaded(TimeoutError):
    """The ring has not read the keys issued before it started: a lead it does not know may yet
    have one. A `TimeoutError`, so the caller's retry treats it as the outage it is."""


class SealBroken(ValueError):
    """A sealed value that its lead's key does not open: corrupted, or sealed with another key."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def seal(key: bytes, lead_id: uuid.UUID, fields: dict[str, Any]) -> str:
    """`fields` as JSON, encrypted and bound to the lead (its id is the associated data)."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, to_json(fields), lead_id.bytes)
    return VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(key: bytes, lead_id: uuid.UUID, value: str) -> dict[str, Any]:
    if not value.startswith(VERSION):
        raise SealBroken(f"unknown seal version in {value[:8]!r}")
    try:
        raw = base64.urlsafe_b64decode(value.removeprefix(VERSION))
        clear = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], lead_id.bytes)
    except Exception as exc:  # InvalidTag, bad base64, short input: all one condition
        raise SealBroken(f"lead {lead_id}'s sealed fields do not open with its key") from exc
    fields: dict[str, Any] = from_json(clear)
    return fields


M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


def _replaced(model: M, update: dict[str, Any]) -> M:
    """`model.model_copy(update=update)` at half its cost: sealing and opening copy two frozen
    models per event, and on the events' hot paths those copies cost more than the cipher."""
    clone = model.__class__.__new__(model.__class__)
    _set(clone, "__dict__", {**model.__dict__, **update})
    _set(clone, "__pydantic_fields_set__", model.__pydantic_fields_set__ | update.keys())
    _set(clone, "__pydantic_extra__", model.__pydantic_extra__)
    _set(clone, "__pydantic_private__", model.__pydantic_private__)
    return clone


def _qualified(event: Envelope) -> bool:
    # The event type first: an `isinstance` of a pydantic model goes through `ABCMeta`.
    return event.event_type == "lead.qualified" and isinstance(event, LeadQualified)


def _holder(event: Envelope) -> Payload:
    payload: Payload = event.payload.lead if _qualified(event) else event.payload
    return payload


def _with_holder(event: E, holder: Payload) -> E:
    if _qualified(event):
        return _replaced(event, {"payload": _replaced(event.payload, {"lead": holder})})
    return _replaced(event, {"payload": holder})


def _sealed(holder: Payload) -> str | None:
    value = holder.__dict__.get("sealed")
    return value if isinstance(value, str) else None


def is_sealed(event: Envelope) -> bool:
    return event.event_type in PERSONAL_FIELDS and _sealed(_holder(event)) is not None


def has_clear_fields(event: Envelope) -> bool:
    blanks = PERSONAL_FIELDS.get(event.event_type)
    if blanks is None:
        return False
    holder = _holder(event)
    return any(getattr(holder, name) not in (None, "") for name in blanks)


def seal_event(event: E, key: bytes) -> E:
    """The event with its personal fields sealed (unchanged if it has none in clear)."""
    blanks = PERSONAL_FIELDS.get(event.event_type)
    if blanks is None:
        return event
    holder = _holder(event)
    values = holder.__dict__
    clear = {name: values[name] for name in blanks if values[name] not in (None, "")}
    if not clear:
        return event
    update: dict[str, Any] = {name: blanks[name] for name in clear}
    update["sealed"] = seal(key, event.lead_id, clear)
    return _with_holder(event, _replaced(holder, update))


def erase_fields(event: E) -> E:
    """The event as an erased lead's: personal fields blank, whether sealed or in clear."""
    blanks = PERSONAL_FIELDS.get(event.event_type)
    if blanks is None:
        return event
    return _with_holder(event, _replaced(_holder(event), {**blanks, "sealed": None}))


def open_event(event: E, key: bytes | None) -> E:
    """The event with its sealed fields in clear; with no key (the lead was erased, or never
    known), the event as an erased lead's."""
    if not is_sealed(event):
        return event
    if key is None:
        return erase_fields(event)
    holder = _holder(event)
    blanks = PERSONAL_FIELDS[event.event_type]
    fields = unseal(key, event.lead_id, _sealed(holder) or "")
    update: dict[str, Any] = {name: fields[name] for name in blanks if name in fields}
    update["sealed"] = None
    return _with_holder(event, _replaced(holder, update))


def seal_with(ring: KeyRing, event: E) -> E:
    """Seal with the ring's key. An erased lead's fields go blank rather than out in clear; a lead
    never given a key (it came before sealing did, in clear) stays as it came."""
    if not has_clear_fields(event):
        return event
    key = ring.get(event.lead_id)
    if key is not None:
        return seal_event(event, key)
    if ring.erased(event.lead_id):
        return erase_fields(event)
    if not ring.loaded:
        raise KeyRingNotLoaded(f"lead keys not read yet; lead {event.lead_id} may have one")
    return event


__all__ = [
    "KEY_BYTES",
    "PERSONAL_FIELDS",
    "SESSION_KEY_RING",
    "KeyRing",
    "KeyRingNotLoaded",
    "SealBroken",
    "erase_fields",
    "has_clear_fields",
    "is_sealed",
    "new_key",
    "open_event",
    "seal",
    "seal_event",
    "seal_with",
    "unseal",
]
