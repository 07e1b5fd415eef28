"""The one intake use case: prepared submissions in, leads resolved, submissions recorded under
their idempotency keys and `lead.ingested` staged in the outbox.

Every source reaches it with a `PreparedSubmission`: a form post (through the group-committing
`SubmissionWriter` in `worker.py`), a platform's webhook delivery, a bulk import. Single and
batch intake are the same code: a single submission is a batch of one. The caller owns the
transaction; this only stages rows and events in it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from opentelemetry import context as otel_context
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.activities import stitch_visitor
from services.ingest.errors import IdempotencyKeyReused
from services.ingest.identity import Identity, lead_identity
from services.ingest.models import outbox
from services.ingest.repository import LeadRepository, NewSubmission, SubmissionRepository
from services.ingest.schemas import SubmissionAccepted
from services.ingest.sealing import has_personal_fields, sealed, stage_issued
from shared.contracts import LeadIngested, LeadIngestedPayload, Touch, utc_now
from shared.outbox import announce, outbox_columns, remember
from shared.tracing import extract_context

PRODUCER = "ingest"


@dataclass(frozen=True)
class PreparedSubmission:
    """A validated submission, ready to be stored: its event payload, idempotency key, request
    digest, the fields as stored, and the trace context of the request that brought it (a
    background writer has none of its own).

    `body_must_match`: a client's idempotency key promises the same body, so another body under
    it is refused; a platform's lead id names the lead whatever a redelivery carries (False).
    `publish`: False for a lead imported as history, recorded (its identity, submission and
    touch) but never announced, so nothing downstream scores, routes or counts it."""

    payload: LeadIngestedPayload
    idempotency_key: str | None
    digest: str
    fields: dict[str, Any]
    trace: Mapping[str, str] = field(default_factory=dict)
    body_must_match: bool = True
    publish: bool = True


@dataclass(frozen=True)
class Accepted:
    """A submission's answer; `duplicate` when its key was taken and this is the first answer."""

    answer: SubmissionAccepted
    duplicate: bool = False


Answer = Accepted | Exception


def replay(prepared: PreparedSubmission, *, first: SubmissionAccepted, first_digest: str) -> Answer:
    """The one idempotency rule: a key seen before answers as it did the first time, or is
    refused when the body differs and the key promised the same body."""
    if prepared.body_must_match and first_digest != prepared.digest:
        return IdempotencyKeyReused("this Idempotency-Key was already used with a different body")
    return Accepted(first, duplicate=True)


async def accept_submissions(session: AsyncSession, batch: Sequence[PreparedSubmission]) -> list[Answer]:
    """Accept many submissions at once: one idempotency lookup, one lead upsert, one insert of
    submissions and their events; an answer (or refusal) per submission, in order.

    A key seen before (or taken by a concurrent request) replays the first answer (`replay`); a
    key repeated inside the batch is written once and replayed after. Database errors raise.
    """
    submissions = SubmissionRepository(session)
    earlier = await submissions.by_idempotency_keys(
        sorted({p.idempotency_key for p in batch if p.idempotency_key is not None})
    )
    answers: list[Answer | None] = [None] * len(batch)
    first_of_key: dict[str, int] = {}
    fresh: list[int] = []
    for index, prepared in enumerate(batch):
        key = prepared.idempotency_key
        if key is not None and key in earlier:
            row = earlier[key]
            first = SubmissionAccepted(lead_id=row.lead_id, event_id=row.event_id)
            answers[index] = replay(prepared, first=first, first_digest=row.request_hash)
        elif key is not None and key in first_of_key:
            continue  # answered from the first of its key, below
        else:
            if key is not None:
                first_of_key[key] = index
            fresh.append(index)
    received_at = utc_now()
    repository = LeadRepository(session)
    identities = await _identities(repository, {i: batch[i].payload for i in fresh})
    touches = {i: _touch_json(batch[i].payload) for i in fresh}
    # Encoded once: the lead's first touch and the submission's own are the same text.
    touch_texts = {i: json.dumps(touch) if touch else None for i, touch in touches.items()}
    # The leads whose events are sealed get their keys (issued if need be) with the leads.
    keyed = {
        identities[i].match_key for i in fresh if batch[i].publish and has_personal_fields(batch[i].payload)
    }
    resolved = await repository.resolve_batch(
        [(who.email, who.match_key, who.domain, who.phone, touch_texts[i]) for i, who in identities.items()],
        seen_at=received_at,
        keyed=keyed,
    )
    await stage_issued(session, resolved.issued, at=received_at)
    leads = resolved.leads
    events: dict[int, LeadIngested] = {}
    rows: list[NewSubmission] = []
    for index in fresh:
        prepared = batch[index]
        lead = leads[identities[index].match_key]
        payload = prepared.payload
        update: dict[str, Any] = {}
        if lead.first_touch is not None:
            # A new lead's first touch is this submission's own: no second validation for it.
            first_is_own = lead.first_touch == touches[index]
            update["first_touch"] = (
                payload.latest_touch if first_is_own else Touch.model_validate(lead.first_touch)
            )
        if lead.account_id is not None:
            update.update(account_id=lead.account_id, account_owner_id=lead.account_owner_id)
        if update:
            payload = payload.model_copy(update=update)
        event = events[index] = LeadIngested.new(lead_id=lead.lead_id, payload=payload, producer=PRODUCER)
        rows.append(
            NewSubmission(
                lead_id=lead.lead_id,
                form_id=payload.form_id or payload.source,
                source=payload.source,
                event_id=event.event_id,
                idempotency_key=prepared.idempotency_key,
                request_hash=prepared.digest,
                fields=prepared.fields,
                received_at=received_at,
                touch=touch_texts[index],
            )
        )
    announced = [i for i in fresh if batch[i].publish]
    known = {lead.lead_id: lead.key for lead in leads.values() if lead.key is not None}
    columns = outbox_columns(
        await sealed(session, [events[i] for i in announced], known=known),
        [dict(batch[i].trace) for i in announced],
    )
    stored = await submissions.add_many_with_events(rows, columns)
    staged = [(row_id, event_id) for event_id, row_id in stored.items() if row_id is not None]
    if staged:
        # This process's relay publishes the rows from memory: it need not read them back.
        remember(session, outbox, columns, staged)
        await announce(session, outbox, remembered=True)
    lost = [batch[i].idempotency_key for i in fresh if events[i].event_id not in stored]
    winners = await submissions.by_idempotency_keys(sorted(k for k in lost if k is not None))
    for index in fresh:
        event = events[index]
        if event.event_id in stored:
            answers[index] = Accepted(SubmissionAccepted(lead_id=event.lead_id, event_id=event.event_id))
            if batch[index].publish:
                await _stitch(session, event, identities[index], batch[index].trace)
        else:
            key = batch[index].idempotency_key
            assert key is not None, "only a taken idempotency key stops a submission"
            row = winners[key]
            first = SubmissionAccepted(lead_id=row.lead_id, event_id=row.event_id)
            answers[index] = replay(batch[index], first=first, first_digest=row.request_hash)
    for index, prepared in enumerate(batch):
        if answers[index] is None:
            assert prepared.idempotency_key is not None
            first_index = first_of_key[prepared.idempotency_key]
            answers[index] = _replay_sibling(answers[first_index], batch[first_index], prepared)
    return [a if a is not None else RuntimeError("unanswered") for a in answers]


def _touch_json(payload: LeadIngestedPayload) -> dict[str, Any] | None:
    touch = payload.latest_touch
    return touch.model_dump(mode="json") if touch is not None else None


async def _identities(
    repository: LeadRepository, payloads: Mapping[int, LeadIngestedPayload]
) -> dict[int, Identity]:
    identities = {index: lead_identity(payload) for index, payload in payloads.items()}
    phones = sorted({who.phone for who in identities.values() if who.email is None and who.phone})
    known = await repository.keys_by_phone(phones)
    return {
        index: replace(who, match_key=known[who.phone]) if who.email is None and who.phone in known else who
        for index, who in identities.items()
    }


async def _stitch(
    session: AsyncSession, event: LeadIngested, who: Identity, trace: Mapping[str, str]
) -> None:
    # Activities name their lead by email (`activity.recorded`): a visitor whose lead left only
    # a phone number stays anonymous until the lead gives an address.
    if not event.payload.visitor_id or who.email is None:
        return
    token = otel_context.attach(extract_context(dict(trace)))
    try:
        await stitch_visitor(
            session,
            visitor_id=event.payload.visitor_id,
            lead_id=event.lead_id,
            email=who.email,
            decision=f"{event.payload.source}_submission",
            caused_by=event,
        )
    finally:
        otel_context.detach(token)


def _replay_sibling(
    first_answer: Answer | None, first: PreparedSubmission, prepared: PreparedSubmission
) -> Answer:
    if first_answer is None or isinstance(first_answer, Exception):
        return first_answer or RuntimeError("unanswered")
    return replay(prepared, first=first_answer.answer, first_digest=first.digest)
