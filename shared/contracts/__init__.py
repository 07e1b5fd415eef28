"""Event contracts shared by every service: the envelope, the payloads and the topics."""

from shared.contracts.codec import UndecodableEvent, decode_event
from shared.contracts.envelope import Envelope, Payload, utc_now
from shared.contracts.events import (
    AnyEvent,
    FiredRule,
    LeadAssigned,
    LeadAssignedPayload,
    LeadDispositioned,
    LeadDispositionedPayload,
    LeadIngested,
    LeadIngestedPayload,
    LeadQualified,
    LeadQualifiedPayload,
    LeadScored,
    LeadScoredPayload,
    LeadSnapshot,
    Outcome,
)

__all__ = [
    "AnyEvent",
    "Envelope",
    "FiredRule",
    "LeadAssigned",
    "LeadAssignedPayload",
    "LeadDispositioned",
    "LeadDispositionedPayload",
    "LeadIngested",
    "LeadIngestedPayload",
    "LeadQualified",
    "LeadQualifiedPayload",
    "LeadScored",
    "LeadScoredPayload",
    "LeadSnapshot",
    "Outcome",
    "Payload",
    "UndecodableEvent",
    "decode_event",
    "utc_now",
]
