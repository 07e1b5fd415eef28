"""Ingest's use cases. No transport here: the caller owns the session and its transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.errors import IdempotencyKeyReused
from services.ingest.models import outbox
from services.ingest.normalize import request_hash, to_ingested_payload
from services.ingest.repository import LeadRepository, SubmissionRepository
from services.ingest.schemas import FormSubmissionCreate, SubmissionAccepted
from shared.contracts import LeadIngested, utc_now
from shared.outbox import add_event

PRODUCER = "ingest"


async def submit_form(
    session: AsyncSession,
    *,
    form_id: str,
    submission: FormSubmissionCreate,
    idempotency_key: str | None,
) -> SubmissionAccepted:
    """Accept a form fill: resolve the lead by email and stage `lead.ingested` in the outbox.

    The same idempotency key with the same body returns the first answer and stages nothing;
    with a different body it is refused.
    """
    fields = submission.model_dump(mode="json", exclude_none=True)
    digest = request_hash(form_id, fields)
    submissions = SubmissionRepository(session)
    if idempotency_key is not None:
        earlier = await submissions.by_idempotency_key(idempotency_key)
        if earlier is not None:
            return _replay(earlier.request_hash, digest, earlier.lead_id, earlier.event_id)

    received_at = utc_now()
    payload = to_ingested_payload(form_id, submission, submitted_at=received_at)
    lead_id = await LeadRepository(session).resolve_by_email(payload.email, seen_at=received_at)
    event = LeadIngested.new(lead_id=lead_id, payload=payload, producer=PRODUCER)
    stored = await submissions.add_unless_key_taken(
        lead_id=lead_id,
        form_id=form_id,
        event_id=event.event_id,
        idempotency_key=idempotency_key,
        request_hash=digest,
        fields=fields,
        received_at=received_at,
    )
    if not stored:
        # A concurrent request with the same key committed first: answer as it did.
        assert idempotency_key is not None
        winner = await submissions.by_idempotency_key(idempotency_key)
        assert winner is not None
        return _replay(winner.request_hash, digest, winner.lead_id, winner.event_id)
    await add_event(session, outbox, event)
    return SubmissionAccepted(lead_id=lead_id, event_id=event.event_id)


def _replay(stored_hash: str, digest: str, lead_id: object, event_id: object) -> SubmissionAccepted:
    if stored_hash != digest:
        raise IdempotencyKeyReused("this Idempotency-Key was already used with a different body")
    return SubmissionAccepted.model_validate({"lead_id": lead_id, "event_id": event_id})
