"""A platform's lead, as its provider parser reported it, made into a prepared submission.

Nothing a platform sent is dropped: any JSON type is read as text where text is expected (Webflow
sends phone numbers as JSON numbers), and a value that still does not fit its field is kept as an
attribute under its own name. An admin's field map (per provider, or per platform form) moves
answers to the fields it names first. What cannot become a lead at all (a bad email; no email, no
phone and no platform lead id) raises `WebhookPayloadInvalid` with the reason the quarantine
records.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from services.ingest.errors import WebhookPayloadInvalid
from services.ingest.intake import PreparedSubmission
from services.ingest.labels import as_text
from services.ingest.normalize import map_fields, to_ingested_payload
from services.ingest.providers import PlatformLead
from services.ingest.schemas import MAX_ATTRIBUTE_LENGTH, PLATFORM_LEAD, FormSubmissionCreate
from shared.contracts import utc_now

log = logging.getLogger(__name__)

# A provider's parser: the raw body and the request parameters it reads -> the platform's lead.
Parser = Callable[[bytes, Mapping[str, str]], PlatformLead]
# Providers whose deliveries carry no lead id of their own: their key is the body's digest, which
# names a delivery, not a person, so such a lead still needs an email or a phone.
DIGEST_KEYED = frozenset({"hubspot", "unbounce"})
# The fields a lead is known by: a misfit there refuses the lead rather than being set aside.
IDENTITY_FIELDS = frozenset({"email"})


@dataclass(frozen=True)
class FieldMap:
    """What an admin configured for a provider's answers, as forms are configured: answer name ->
    Baton's field, and hidden answers -> UTM tags."""

    fields: Mapping[str, str] = field(default_factory=dict)
    utm_fields: Mapping[str, str] = field(default_factory=dict)


def idempotency_key(provider: str, external_id: str) -> str:
    key = f"{provider}:{external_id}"
    # Platform ids (LinkedIn URNs) can outgrow the column; a digest keeps them unique.
    return key if len(key) <= 255 else f"{provider}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def form_config_suffix(form_id: str) -> str:
    """The platform form's part of its field map form id (`<provider>.<suffix>`)."""
    # A LinkedIn form is a URN (`urn:li:leadGenForm:77`); form ids allow no colons.
    return form_id.rstrip(")").rpartition(":")[2].split(",", 1)[0]


def prepare_platform_lead(
    provider: str, lead: PlatformLead, *, field_map: FieldMap | Mapping[str, str] | None = None
) -> PreparedSubmission:
    """The lead as a submission keyed by `<provider>:<platform lead id>`. `field_map` (the
    platform's name for an answer or field -> Baton's) applies on top of the provider's own
    mapping. The submission carries the platform's submission time and Baton's `received_at`."""
    mapping = field_map if isinstance(field_map, FieldMap) else FieldMap(fields=field_map or {})
    lead = apply_field_map(lead, mapping.fields, mapping.utm_fields)
    received_at = utc_now()
    fields = map_fields(lead.fields, mapping.fields, {})
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
    ).model_copy(update={"received_at": received_at})
    stored = submission.model_dump(mode="json", exclude_none=True)
    return PreparedSubmission(
        payload,
        idempotency_key(provider, lead.external_id),
        hashlib.sha256(repr(sorted(stored.items())).encode()).hexdigest(),
        stored,
        body_must_match=False,
    )


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


def validated_submission(
    provider: str, lead: PlatformLead, fields: dict[str, Any], attributes: dict[str, str]
) -> FormSubmissionCreate:
    """The fields as a submission. A field Baton knows whose value does not fit (a phone number
    of 60 digits, a company size of "lots") is kept as an attribute instead of costing the lead;
    only what identifies the lead can refuse it. A platform's own lead id identifies a lead on
    its own; a body digest (`DIGEST_KEYED`) does not."""
    context = PLATFORM_LEAD if provider not in DIGEST_KEYED else None
    while True:
        try:
            return FormSubmissionCreate.model_validate(fields, context=context)
        except ValidationError as exc:
            misfits = {
                str(e["loc"][0])
                for e in exc.errors()
                if e["loc"] and str(e["loc"][0]) in fields and str(e["loc"][0]) not in IDENTITY_FIELDS
            }
            if not misfits:
                raise _refusal(provider, lead, exc) from exc
            for name in misfits:
                attributes[name] = (as_text(fields.pop(name)) or "")[:MAX_ATTRIBUTE_LENGTH]
            log.info(
                "ingest.webhook_fields_kept_as_attributes",
                extra={"provider": provider, "external_id": lead.external_id, "fields": sorted(misfits)},
            )


def _refusal(provider: str, lead: PlatformLead, exc: ValidationError) -> WebhookPayloadInvalid:
    errors = [
        {"loc": ["lead", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False)
    ]
    # An error of the whole model (no field) is the missing contact point.
    reason = "no_contact_point" if all(not e["loc"] for e in exc.errors()) else "invalid_fields"
    return WebhookPayloadInvalid(
        f"{provider} lead {lead.external_id} is missing or has invalid fields", errors=errors, reason=reason
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
