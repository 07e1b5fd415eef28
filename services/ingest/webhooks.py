"""Webhook use cases: platform leads in, one `lead.ingested` per platform lead id, ever.

Signatures are checked by the caller before anything here runs. Every lead of a delivery is
parsed (and fetched) before anything is stored, so a delivery is applied whole or not at all
and the platform's retry finds nothing half-done. Each lead goes through the one intake
(`Intake.submit_all`); a delivery that authenticates but cannot be mapped is quarantined.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.cache import Timed
from services.ingest.errors import FormNotFound, WebhookPayloadInvalid
from services.ingest.fetched_leads import facebook_fetched_body, linkedin_fetched_body
from services.ingest.intake import Accepted, PreparedSubmission
from services.ingest.linkedin import (
    LinkedInNotification,
    LinkedInQuestion,
    answered_questions,
    linkedin_form_questions,
    linkedin_lead,
    response_form,
)
from services.ingest.platform_leads import (
    FieldMap,
    Parser,
    form_config_suffix,
    idempotency_key,
    prepare_platform_lead,
)
from services.ingest.platforms import LeadFetcher, LinkedInFetcher, Permanent, PlatformLeadUnavailable
from services.ingest.providers import LeadgenChange, PayloadInvalid, PlatformLead, facebook_lead
from services.ingest.schemas import LeadNotFetched, SubmissionAccepted, WebhookAccepted
from services.ingest.service import Intake, erase_lead

T = TypeVar("T")
log = logging.getLogger(__name__)


async def ingest_platform_leads(
    intake: Intake, *, provider: str, leads: Sequence[PlatformLead]
) -> WebhookAccepted:
    """Accept each platform lead once, all of a delivery together: a lead id seen before is
    acknowledged and changes nothing. The admin's field maps for the provider and for the lead's
    form apply first."""
    prepared = [await _prepared(intake, provider, lead) for lead in leads]
    return _answer(provider, await intake.submit_all(prepared))


async def _prepared(intake: Intake, provider: str, lead: PlatformLead) -> PreparedSubmission:
    return prepare_platform_lead(provider, lead, field_map=await field_maps(intake, provider, lead.form_id))


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
        prepared = await _prepared(intake, provider, lead)
    except WebhookPayloadInvalid as exc:
        quarantine_id = await intake.quarantine(source=provider, body=body, params=params, problem=exc)
        return WebhookAccepted(provider=provider, quarantine_id=quarantine_id, quarantine_ids=[quarantine_id])
    return _answer(provider, await intake.submit_all([prepared]))


async def receive_facebook(
    intake: Intake, *, changes: Sequence[LeadgenChange], fetcher: LeadFetcher
) -> WebhookAccepted:
    """Meta sends ids only: fetch each new lead from the Graph API, then accept them all. A lead
    the Graph API refuses for good (deleted, a testing-tool lead this token cannot read) is
    answered as not fetched, with the reason, so Meta stops retrying it; a transient failure
    raises `PlatformUnavailable` (503) and Meta delivers again. A fetched lead that cannot be
    mapped is quarantined (the change and the Graph answer, whole); the others are accepted."""
    earlier = await intake.accepted_before([idempotency_key("facebook", c.leadgen_id) for c in changes])
    fetched_leads: list[tuple[LeadgenChange, object]] = []
    seen: list[SubmissionAccepted] = []
    unfetched: list[LeadNotFetched] = []
    for change in changes:
        known = earlier.get(idempotency_key("facebook", change.leadgen_id))
        if known is not None:
            seen.append(known)
            continue
        try:
            fetched_leads.append((change, await fetcher.fetch(change.leadgen_id)))
        except PlatformLeadUnavailable as exc:
            unfetched.append(lead_not_fetched("facebook", change.leadgen_id, exc.failure))
    prepared: list[PreparedSubmission] = []
    quarantined: list[uuid.UUID] = []
    for change, fetched in fetched_leads:
        try:
            lead = parse_payload(partial(facebook_lead, change, fetched))
            prepared.append(await _prepared(intake, "facebook", lead))
        except WebhookPayloadInvalid as exc:
            body = facebook_fetched_body(change, fetched)
            quarantined.append(await intake.quarantine(source="facebook", body=body, params={}, problem=exc))
    result = _answer("facebook", await intake.submit_all(prepared) if prepared else [])
    result.leads.extend(seen)
    result.duplicates += len(seen)
    result.not_fetched.extend(unfetched)
    _note_quarantined(result, quarantined)
    return result


def _note_quarantined(result: WebhookAccepted, quarantined: Sequence[uuid.UUID]) -> None:
    result.quarantine_ids.extend(quarantined)
    if quarantined:
        result.quarantine_id = quarantined[0]


async def receive_linkedin(
    session: AsyncSession,
    intake: Intake,
    *,
    notification: LinkedInNotification,
    fetcher: LinkedInFetcher,
    forms: Timed[dict[str, LinkedInQuestion]],
) -> WebhookAccepted:
    """CREATED: fetch the form response (and, for answers known only by question id, the form
    that asked them) and accept it; a response LinkedIn refuses for good is answered as not
    fetched. DELETED: erase, in `session`, the lead it created."""
    key = idempotency_key("linkedin", notification.response_id)
    earlier = (await intake.accepted_before([key])).get(key)
    if notification.action == "DELETED":
        if earlier is None:
            return WebhookAccepted(provider="linkedin")
        await erase_lead(session, lead_id=earlier.lead_id, reason="linkedin")
        return WebhookAccepted(provider="linkedin", erased=1)
    if earlier is not None:
        return WebhookAccepted(provider="linkedin", leads=[earlier], duplicates=1)
    try:
        response = await fetcher.fetch(notification.response_id)
    except PlatformLeadUnavailable as exc:
        missing = lead_not_fetched("linkedin", notification.response_id, exc.failure)
        return WebhookAccepted(provider="linkedin", not_fetched=[missing])
    try:
        questions = await _form_questions(notification, response, fetcher, forms)
    except PlatformLeadUnavailable as exc:
        # The lead is here: its answers stay, under their question ids, for a field map to name.
        log.warning("ingest.linkedin_form_not_fetched", extra={"reason": exc.failure.reason})
        questions = {}
    try:
        lead = parse_payload(partial(linkedin_lead, notification, response, questions))
        prepared = await _prepared(intake, "linkedin", lead)
    except WebhookPayloadInvalid as exc:
        # Kept whole (notification, response, the form's questions) so a replay maps what was fetched.
        body = linkedin_fetched_body(notification, response, questions)
        quarantine_id = await intake.quarantine(source="linkedin", body=body, params={}, problem=exc)
        return WebhookAccepted(
            provider="linkedin", quarantine_id=quarantine_id, quarantine_ids=[quarantine_id]
        )
    return _answer("linkedin", await intake.submit_all([prepared]))


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


def lead_not_fetched(provider: str, external_id: str, failure: Permanent) -> LeadNotFetched:
    """Record a platform lead that can never be fetched: logged and counted (the fetch counted it
    in `baton_ingest_platform_fetch_failures_total`), and answered with the reason, so the
    platform stops retrying it."""
    log.warning(
        "ingest.platform_lead_not_fetched",
        extra={"provider": provider, "external_id": external_id, "reason": failure.reason},
    )
    return LeadNotFetched(external_id=external_id, reason=failure.reason)


async def field_maps(intake: Intake, provider: str, form_id: str | None) -> FieldMap:
    """The field map and UTM fields an admin configured, as forms are configured, for the
    provider (form id `<provider>`) and for one of its forms (`<provider>.<platform form id>`,
    the latter winning)."""
    field_map: dict[str, str] = {}
    utm_fields: dict[str, str] = {}
    for config_id in (provider, f"{provider}.{form_config_suffix(form_id)}" if form_id else None):
        if config_id is None:
            continue
        try:
            form = await intake.find_form(config_id)
        except FormNotFound:
            continue
        field_map.update(form.field_map)
        utm_fields.update(form.utm_fields)
    return FieldMap(field_map, utm_fields)
