"""Webhook use cases: platform leads in, one `lead.ingested` per platform lead id, ever.

Signatures are checked by the caller before anything here runs. Every lead of a delivery is
parsed (and fetched) before anything is stored, so a delivery is applied whole or not at all
and the platform's retry finds nothing half-done.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.cache import Timed
from services.ingest.errors import WebhookPayloadInvalid
from services.ingest.intake import PreparedSubmission
from services.ingest.linkedin import (
    LinkedInNotification,
    LinkedInQuestion,
    answered_questions,
    linkedin_form_questions,
    linkedin_lead,
    response_form,
)
from services.ingest.normalize import map_fields, to_ingested_payload
from services.ingest.platforms import LeadFetcher, LinkedInFetcher
from services.ingest.providers import LeadgenChange, PayloadInvalid, PlatformLead, facebook_lead
from services.ingest.schemas import PLATFORM_LEAD, FormSubmissionCreate, SubmissionAccepted, WebhookAccepted
from services.ingest.service import Intake, erase_lead
from shared.contracts import utc_now

T = TypeVar("T")


def idempotency_key(provider: str, external_id: str) -> str:
    key = f"{provider}:{external_id}"
    # Platform ids (LinkedIn URNs) can outgrow the column; a digest keeps them unique.
    return key if len(key) <= 255 else f"{provider}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


async def ingest_platform_leads(
    intake: Intake, *, provider: str, leads: Sequence[PlatformLead]
) -> WebhookAccepted:
    """Accept each platform lead once, all of a delivery together: a lead id seen before is
    acknowledged and changes nothing."""
    prepared = [_prepared(provider, lead) for lead in leads]
    result = WebhookAccepted(provider=provider)
    for accepted in await intake.submit_all(prepared):
        result.leads.append(accepted.answer)
        result.duplicates += accepted.duplicate
    return result


async def receive_facebook(
    intake: Intake, *, changes: Sequence[LeadgenChange], fetcher: LeadFetcher
) -> WebhookAccepted:
    """Meta sends ids only: fetch each new lead from the Graph API, then accept them all."""
    earlier = await intake.accepted_before([idempotency_key("facebook", c.leadgen_id) for c in changes])
    leads: list[PlatformLead] = []
    seen: list[SubmissionAccepted] = []
    for change in changes:
        known = earlier.get(idempotency_key("facebook", change.leadgen_id))
        if known is not None:
            seen.append(known)
            continue
        fetched = await fetcher.fetch(change.leadgen_id)
        leads.append(parse_payload(partial(facebook_lead, change, fetched)))
    result = await ingest_platform_leads(intake, provider="facebook", leads=leads)
    result.leads.extend(seen)
    result.duplicates += len(seen)
    return result


async def receive_linkedin(
    session: AsyncSession,
    intake: Intake,
    *,
    notification: LinkedInNotification,
    fetcher: LinkedInFetcher,
    forms: Timed[dict[str, LinkedInQuestion]],
) -> WebhookAccepted:
    """CREATED: fetch the form response (and, for answers known only by question id, the form
    that asked them) and accept it. DELETED: erase, in `session`, the lead it created."""
    key = idempotency_key("linkedin", notification.response_id)
    earlier = (await intake.accepted_before([key])).get(key)
    if notification.action == "DELETED":
        if earlier is None:
            return WebhookAccepted(provider="linkedin")
        await erase_lead(session, lead_id=earlier.lead_id, reason="linkedin")
        return WebhookAccepted(provider="linkedin", erased=1)
    if earlier is not None:
        return WebhookAccepted(provider="linkedin", leads=[earlier], duplicates=1)
    response = await fetcher.fetch(notification.response_id)
    questions = await _form_questions(notification, response, fetcher, forms)
    lead = parse_payload(partial(linkedin_lead, notification, response, questions))
    return await ingest_platform_leads(intake, provider="linkedin", leads=[lead])


async def _form_questions(
    notification: LinkedInNotification,
    response: Any,
    fetcher: LinkedInFetcher,
    forms: Timed[dict[str, LinkedInQuestion]],
) -> dict[str, LinkedInQuestion]:
    needed = parse_payload(partial(answered_questions, response))
    form = parse_payload(partial(response_form, notification, response))
    if not needed or form is None:
        return {}
    cached = forms.get(form)
    if cached is not None and needed <= cached.keys():
        return cached
    definition = await fetcher.form(form)
    questions = parse_payload(partial(linkedin_form_questions, definition))
    forms.put(form, questions)
    return questions


def parse_payload(parse: Callable[[], T]) -> T:
    """Run a provider parser, turning a malformed payload into a 422 problem."""
    try:
        return parse()
    except PayloadInvalid as exc:
        raise WebhookPayloadInvalid(str(exc)) from exc


def _prepared(provider: str, lead: PlatformLead) -> PreparedSubmission:
    fields = map_fields(lead.fields, {}, {})
    try:
        submission = FormSubmissionCreate.model_validate(fields, context=PLATFORM_LEAD)
    except ValidationError as exc:
        errors = [
            {"loc": ["lead", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False)
        ]
        raise WebhookPayloadInvalid(
            f"{provider} lead {lead.external_id} is missing or has invalid fields", errors=errors
        ) from exc
    payload = to_ingested_payload(
        lead.form_id,
        submission,
        submitted_at=lead.submitted_at or utc_now(),
        source=provider,
        utm=lead.utm,
        attributes=lead.attributes,
        is_test=lead.is_test,
        external_id=lead.external_id,
    )
    stored = submission.model_dump(mode="json", exclude_none=True)
    return PreparedSubmission(
        payload,
        idempotency_key(provider, lead.external_id),
        hashlib.sha256(repr(sorted(stored.items())).encode()).hexdigest(),
        stored,
        body_must_match=False,
    )
