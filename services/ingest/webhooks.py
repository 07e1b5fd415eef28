"""Webhook use cases: platform leads in, one `lead.ingested` per platform lead id, ever.

Signatures are checked by the caller before anything here runs. Every lead of a delivery is
parsed (and fetched) before anything is stored, so a delivery is applied whole or not at all
and the platform's retry finds nothing half-done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.cache import Timed
from services.ingest.errors import WebhookPayloadInvalid
from services.ingest.intake import Accepted
from services.ingest.linkedin import (
    LinkedInNotification,
    LinkedInQuestion,
    answered_questions,
    linkedin_form_questions,
    linkedin_lead,
    response_form,
)
from services.ingest.platform_leads import Parser, idempotency_key, prepare_platform_lead
from services.ingest.platforms import LeadFetcher, LinkedInFetcher
from services.ingest.providers import LeadgenChange, PayloadInvalid, PlatformLead, facebook_lead
from services.ingest.schemas import SubmissionAccepted, WebhookAccepted
from services.ingest.service import Intake, erase_lead

T = TypeVar("T")


async def ingest_platform_leads(
    intake: Intake, *, provider: str, leads: Sequence[PlatformLead]
) -> WebhookAccepted:
    """Accept each platform lead once, all of a delivery together: a lead id seen before is
    acknowledged and changes nothing."""
    prepared = [prepare_platform_lead(provider, lead) for lead in leads]
    return _answer(provider, await intake.submit_all(prepared))


def _answer(provider: str, accepted: Sequence[Accepted]) -> WebhookAccepted:
    result = WebhookAccepted(provider=provider)
    for one in accepted:
        result.leads.append(one.answer)
        result.duplicates += one.duplicate
    return result


async def receive_delivery(
    intake: Intake, *, provider: str, body: bytes, params: Mapping[str, str], parse: Parser
) -> WebhookAccepted:
    """The one path of every provider whose delivery carries the whole lead (its signature
    already checked): parse, map, accept. A delivery that cannot be mapped is quarantined whole
    and answered with its quarantine id, so the platform does not retry what cannot succeed."""
    try:
        lead = parse_payload(partial(parse, body, params))
        prepared = prepare_platform_lead(provider, lead)
    except WebhookPayloadInvalid as exc:
        quarantine_id = await intake.quarantine(source=provider, body=body, params=params, problem=exc)
        return WebhookAccepted(provider=provider, quarantine_id=quarantine_id)
    return _answer(provider, await intake.submit_all([prepared]))


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
