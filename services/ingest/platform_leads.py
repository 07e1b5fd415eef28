"""A platform's lead, as its provider parser reported it, made into a prepared submission.

Nothing a platform sent is dropped: a field of an unexpected JSON type is read as text where text
is expected (Webflow sends phone numbers as JSON numbers), and a value that still does not fit
its field is kept as an attribute under its own name. What cannot become a lead at all (no
email, no phone and no platform lead id) raises `WebhookPayloadInvalid` with the reason the
quarantine records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from services.ingest.errors import WebhookPayloadInvalid
from services.ingest.intake import PreparedSubmission
from services.ingest.normalize import map_fields, to_ingested_payload
from services.ingest.providers import PlatformLead
from services.ingest.schemas import MAX_ATTRIBUTE_LENGTH, PLATFORM_LEAD, FormSubmissionCreate
from shared.contracts import utc_now

# A provider's parser: the raw body and the request parameters it reads -> the platform's lead.
Parser = Callable[[bytes, Mapping[str, str]], PlatformLead]
# Providers whose deliveries carry no lead id of their own: their key is the body's digest, which
# names a delivery, not a person, so such a lead still needs an email or a phone.
DIGEST_KEYED = frozenset({"hubspot", "unbounce"})
TEXT_FIELDS = frozenset(
    name for name, info in FormSubmissionCreate.model_fields.items() if info.annotation == str | None
)


def idempotency_key(provider: str, external_id: str) -> str:
    key = f"{provider}:{external_id}"
    # Platform ids (LinkedIn URNs) can outgrow the column; a digest keeps them unique.
    return key if len(key) <= 255 else f"{provider}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def prepare_platform_lead(
    provider: str, lead: PlatformLead, *, field_map: Mapping[str, str] | None = None
) -> PreparedSubmission:
    """The lead as a submission keyed by `<provider>:<platform lead id>`; `field_map` (the
    platform's field name -> Baton's) applies on top of the provider's own mapping."""
    fields = map_fields(lead.fields, field_map or {}, {})
    attributes = dict(lead.attributes)
    context = PLATFORM_LEAD if provider not in DIGEST_KEYED else None
    try:
        submission = FormSubmissionCreate.model_validate(fields, context=context)
    except ValidationError as exc:
        _keep_misfits(fields, attributes, exc)
        try:
            submission = FormSubmissionCreate.model_validate(fields, context=context)
        except ValidationError as still:
            errors = [
                {"loc": ["lead", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
                for e in still.errors(include_url=False)
            ]
            reason = "no_contact_point" if all(not e["loc"] for e in still.errors()) else "invalid_fields"
            raise WebhookPayloadInvalid(
                f"{provider} lead {lead.external_id} is missing or has invalid fields",
                errors=errors,
                reason=reason,
            ) from still
    payload = to_ingested_payload(
        lead.form_id,
        submission,
        submitted_at=lead.submitted_at or utc_now(),
        source=provider,
        utm=lead.utm,
        attributes=attributes,
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


def _keep_misfits(fields: dict[str, Any], attributes: dict[str, str], exc: ValidationError) -> None:
    """Numbers where text is expected become text; any other value that does not fit its field
    leaves the field and is kept as an attribute of the same name."""
    for error in exc.errors():
        if len(error["loc"]) != 1 or not isinstance(error["loc"][0], str):
            continue
        name = error["loc"][0]
        value = fields.get(name)
        if name in TEXT_FIELDS and isinstance(value, int | float) and not isinstance(value, bool):
            fields[name] = str(value)
            continue
        fields.pop(name, None)
        if value is not None:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            attributes[name] = text[:MAX_ATTRIBUTE_LENGTH]
