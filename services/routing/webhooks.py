"""Outbound webhooks by the Standard Webhooks specification (standardwebhooks.com): what a
delivery's body and headers are, how they are signed, which subscriptions an event reaches, and
when a failed delivery is tried again. Pure: no database, no network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from shared.contracts.topics import LEAD_ASSIGNED, LEAD_DISPOSITIONED, LEAD_TOUCHED, SLA_BREACHED

# The events a tool may subscribe to: those routing publishes that concern a rep's lead. New
# event types (a reassignment, an SLA reminder) join this tuple when their contract exists.
SUBSCRIBABLE_EVENTS: Final[tuple[str, ...]] = (LEAD_ASSIGNED, LEAD_TOUCHED, LEAD_DISPOSITIONED, SLA_BREACHED)

SECRET_PREFIX: Final = "whsec_"
# The spec asks for keys of 24 to 64 bytes; 32 bytes match the HMAC-SHA256 block of security.
SECRET_BYTES: Final = 32
SIGNATURE_VERSION: Final = "v1"
MAX_BACKOFF: Final = timedelta(hours=6)


def generate_secret() -> str:
    """A new signing secret, `whsec_` and the base64 of random bytes (the spec's format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, *, message_id: str, timestamp: int, body: str) -> str:
    """One `v1,<base64 HMAC-SHA256>` signature of `<id>.<timestamp>.<body>` under `secret`."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    content = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_header(secrets_in_use: Sequence[str], *, message_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` value: one signature per secret in use, space-separated, so a
    receiver holding either the old or the new secret verifies during a rotation."""
    return " ".join(sign(s, message_id=message_id, timestamp=timestamp, body=body) for s in secrets_in_use)


def signed_headers(
    secrets_in_use: Sequence[str], *, message_id: str, sent_at: datetime, body: str
) -> dict[str, str]:
    """The headers of one delivery attempt, signed at the moment it is sent (receivers reject
    timestamps older than a few minutes, so a retry is signed anew)."""
    timestamp = int(sent_at.timestamp())
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secrets_in_use, message_id=message_id, timestamp=timestamp, body=body
        ),
    }


@dataclass(frozen=True)
class SigningKeys:
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None

    def in_use(self, at: datetime) -> list[str]:
        """The current secret, and the previous one while its overlap window lasts."""
        keys = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret is not None and expires is not None and at < expires:
            keys.append(self.previous_secret)
        return keys


@dataclass(frozen=True)
class Audience:
    """Whom a subscription listens for; an empty list of reps or pools means every one."""

    event_types: frozenset[str]
    rep_ids: frozenset[uuid.UUID]
    pools: frozenset[str]

    def wants(self, event_type: str, *, rep_ids: Iterable[uuid.UUID], pool: str | None) -> bool:
        if event_type not in self.event_types:
            return False
        if self.rep_ids and self.rep_ids.isdisjoint(rep_ids):
            return False
        return not self.pools or pool in self.pools


def delivery_body(*, event_type: str, occurred_at: datetime, data: dict[str, object]) -> str:
    """The JSON a subscriber receives, in the shape the spec recommends (`type`, `timestamp`,
    `data`), serialized once: every attempt must send, and sign, the same bytes."""
    document = {"type": event_type, "timestamp": occurred_at.isoformat(), "data": data}
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str)


def next_attempt_delay(attempts: int, *, base_s: float, retry_after_s: float | None = None) -> timedelta:
    """Exponential backoff after `attempts` failed tries (base, 2x, 4x, ...), capped; a
    receiver's own Retry-After wins when it asks for longer."""
    # The exponent is bounded first: 2**200 seconds does not fit a timedelta.
    seconds = min(base_s * 2 ** min(max(0, attempts - 1), 32), MAX_BACKOFF.total_seconds())
    delay = timedelta(seconds=seconds)
    if retry_after_s is not None:
        delay = max(delay, timedelta(seconds=retry_after_s))
    return min(delay, MAX_BACKOFF)
