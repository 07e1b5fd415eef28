"""Webhook use cases: platform leads in, one `lead.ingested` per platform lead id, ever.

Signatures are checked by the caller before anything here runs. Every lead of a delivery is
parsed (and fetched) before anything is stored, so a delivery is applied whole or not at all
and the platform's retry finds nothing half-done.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.cache import Timed
from services.ingest.errors import WebhookPayloadInvalid
from services.ingest.labels import as_text
from services.ingest.linkedin import (
    LinkedInNotification,
    LinkedInQuestion,
    answered_questions,
    linkedin_form_questions,
    linkedin_lead,
    response_form,
)
from services.ingest.normalize import map_fields, to_ingested_payload
from services.ingest.platforms import LeadFetcher, LinkedInFetcher, Permanent, PlatformLeadUnavailable
from services.ingest.providers import LeadgenChange, PayloadInvalid, PlatformLead, facebook_lead
from services.ingest.repository import FormRepository, SubmissionRepository
from services.ingest.schemas import (
    MAX_ATTRIBUTE_LENGTH,
    FormSubmissionCreate,
    LeadNotFetched,
    SubmissionAccepted,
    WebhookAccepted,
)
from services.ingest.service import accept_lead, erase_lead
from shared.contracts import LeadIngestedPayload, utc_now

T = TypeVar("T")
log = logging.getLogger(__name__)
# The fields a lead is known by: a misfit there refuses the lead rather than being set aside.
IDENTITY_FIELDS = frozenset({"email"})


def idempotency_key(provider: str, external_id: str) -> str:
    key = f"{provider}:{external_id}"
    # Platform ids (LinkedIn URNs) can outgrow the column; a digest keeps them unique.
    return key if len(key) <= 255 else f"{provider}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


async def ingest_platform_leads(
    session: AsyncSession, *, provider: str, leads: Sequence[PlatformLead]
) -> WebhookAccepted:
    """Accept each platform lead once: a lead id seen before is acknowledged and changes nothing.
    The admin's field maps for the provider and for the lead's form apply first."""
    mapped = [apply_field_map(lead, *await field_maps(session, provider, lead.form_id)) for lead in leads]
    prepared = [(lead, _payload(provider, lead)) for lead in mapped]
    result = WebhookAccepted(provider=provider)
    for lead, (payload, fields) in prepared:
        accepted = await accept_lead(
            session,
            payload=payload,
            idempotency_key=idempotency_key(provider, lead.external_id),
            digest=hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest(),
            fields=fields,
        )
        result.leads.append(accepted.answer)
        result.duplicates += accepted.duplicate
    return result


async def receive_facebook(
    session: AsyncSession, *, changes: Sequence[LeadgenChange], fetcher: LeadFetcher
) -> WebhookAccepted:
    """Meta sends ids only: fetch each new lead from the Graph API, then accept them all. A lead
    the Graph API refuses for good (deleted, a testing-tool lead this token cannot read) is
    answered as not fetched, with the reason, so Meta stops retrying it; a transient failure
    raises `PlatformUnavailable` (503) and Meta delivers again."""
    submissions = SubmissionRepository(session)
    leads: list[PlatformLead] = []
    seen: list[SubmissionAccepted] = []
    unfetched: list[LeadNotFetched] = []
    for change in changes:
        earlier = await submissions.by_idempotency_key(idempotency_key("facebook", change.leadgen_id))
        if earlier is not None:
            seen.append(SubmissionAccepted(lead_id=earlier.lead_id, event_id=earlier.event_id))
            continue
        try:
            fetched = await fetcher.fetch(change.leadgen_id)
        except PlatformLeadUnavailable as exc:
            unfetched.append(lead_not_fetched("facebook", change.leadgen_id, exc.failure))
            continue
        leads.append(parse_payload(partial(facebook_lead, change, fetched)))
    result = await ingest_platform_leads(session, provider="facebook", leads=leads)
    result.leads.extend(seen)
    result.duplicates += len(seen)
    result.not_fetched.extend(unfetched)
    return result


async def receive_linkedin(
    session: AsyncSession,
    *,
    notification: LinkedInNotification,
    fetcher: LinkedInFetcher,
    forms: Timed[dict[str, LinkedInQuestion]],
) -> WebhookAccepted:
    """CREATED: fetch the form response (and, for answers known only by question id, the form
    that asked them) and accept it. DELETED: erase the lead it created."""
    key = idempotency_key("linkedin", notification.response_id)
    earlier = await SubmissionRepository(session).by_idempotency_key(key)
    if notification.action == "DELETED":
        if earlier is None:
            return WebhookAccepted(provider="linkedin")
        await erase_lead(session, lead_id=earlier.lead_id, reason="linkedin")
        return WebhookAccepted(provider="linkedin", erased=1)
    if earlier is not None:
        answer = SubmissionAccepted(lead_id=earlier.lead_id, event_id=earlier.event_id)
        return WebhookAccepted(provider="linkedin", leads=[answer], duplicates=1)
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
    lead = parse_payload(partial(linkedin_lead, notification, response, questions))
    return await ingest_platform_leads(session, provider="linkedin", leads=[lead])


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
    in `baton_ingest_platform_fetch_failures_total`), and answered with the reason. This is the
    hook a quarantine of undeliverable leads calls."""
    log.warning(
        "ingest.platform_lead_not_fetched",
        extra={"provider": provider, "external_id": external_id, "reason": failure.reason},
    )
    return LeadNotFetched(external_id=external_id, reason=failure.reason)


async def field_maps(
    session: AsyncSession, provider: str, form_id: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """The field map and UTM fields an admin configured, as forms are configured, for the
    provider (form id `<provider>`) and for one of its forms (`<provider>.<platform form id>`,
    the latter winning)."""
    forms = FormRepository(session)
    field_map: dict[str, str] = {}
    utm_fields: dict[str, str] = {}
    for config_id in (provider, f"{provider}.{form_config_suffix(form_id)}" if form_id else None):
        form = await forms.get(config_id) if config_id else None
        if form is not None:
            field_map.update(form.field_map)
            utm_fields.update(form.utm_fields)
    return field_map, utm_fields


def form_config_suffix(form_id: str) -> str:
    # A LinkedIn form is a URN (`urn:li:leadGenForm:77`); form ids allow no colons.
    return form_id.rstrip(")").rpartition(":")[2].split(",", 1)[0]


def apply_field_map(
    lead: PlatformLead, field_map: Mapping[str, str], utm_fields: Mapping[str, str]
) -> PlatformLead:
    """The lead with the answers an admin mapped (by the platform's name for them) moved to the
    fields they name, through the same `map_fields` as forms; whatever was guessed from those
    answers gives way."""
    chosen = {n: v for n, v in lead.answers.items() if n in field_map or n in utm_fields}
    if not chosen:
        return lead
    fields = {k: v for k, v in lead.fields.items() if lead.origins.get(k) not in chosen}
    fields.update(map_fields(chosen, field_map, utm_fields))
    return replace(lead, fields=fields)


def _payload(provider: str, lead: PlatformLead) -> tuple[LeadIngestedPayload, dict[str, Any]]:
    received_at = utc_now()
    fields = map_fields(lead.fields, {}, {})
    attributes = dict(lead.attributes)
    submission = validated_submission(provider, lead, coerce_fields(fields), attributes)
    payload = to_ingested_payload(
        lead.form_id,
        submission,
        submitted_at=lead.submitted_at or received_at,
        source=provider,
        utm=lead.utm,
        attributes=attributes,
        is_test=lead.is_test,
        external_id=lead.external_id,
    )
    payload = payload.model_copy(update={"received_at": received_at})
    return payload, submission.model_dump(mode="json", exclude_none=True)


def validated_submission(
    provider: str, lead: PlatformLead, fields: dict[str, Any], attributes: dict[str, str]
) -> FormSubmissionCreate:
    """The fields as a submission. A field Baton knows whose value does not fit (a phone number
    of 60 digits, a company size of "lots") is kept as an attribute instead of costing the lead;
    only what identifies the lead can refuse it."""
    while True:
        try:
            return FormSubmissionCreate.model_validate(fields)
        except ValidationError as exc:
            misfits = {
                str(e["loc"][0])
                for e in exc.errors()
                if e["loc"] and str(e["loc"][0]) in fields and str(e["loc"][0]) not in IDENTITY_FIELDS
            }
            if not misfits:
                errors = [
                    {"loc": ["lead", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
                    for e in exc.errors(include_url=False)
                ]
                raise WebhookPayloadInvalid(
                    f"{provider} lead {lead.external_id} is missing or has invalid fields", errors=errors
                ) from exc
            for name in misfits:
                attributes[name] = (as_text(fields.pop(name)) or "")[:MAX_ATTRIBUTE_LENGTH]
            log.info(
                "ingest.webhook_fields_kept_as_attributes",
                extra={"provider": provider, "external_id": lead.external_id, "fields": sorted(misfits)},
            )


def coerce_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Every value as text, whatever JSON type the platform sent (Webflow sends a phone number as
    a number), except the types Baton's own fields take as they are. An object where one of
    Baton's fields is expected stays an object, so validation sets it aside as an attribute."""
    return {key: _coerced(key, value) for key, value in fields.items()}


def _coerced(key: str, value: Any) -> Any:
    if value is None or (key == "consent" and isinstance(value, bool)):
        return value
    if key == "company_size" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if key in FormSubmissionCreate.model_fields and isinstance(value, dict):
        return value
    return as_text(value)
