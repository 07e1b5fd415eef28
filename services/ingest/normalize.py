"""Pure normalization of submitted fields into the `lead.ingested` payload."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from services.ingest.schemas import FormSubmissionCreate
from shared.contracts import LeadIngestedPayload

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def normalize_email(email: str) -> str:
    """Lower-case the whole address: mailbox case-sensitivity is allowed by RFC 5321 but unused."""
    return email.strip().lower()


def normalize_country(country: str | None) -> str | None:
    if country is None:
        return None
    return country.upper() if len(country) == 2 else country.title()


def request_hash(form_id: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps({"form_id": form_id, "fields": fields}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def to_ingested_payload(
    form_id: str, submission: FormSubmissionCreate, *, submitted_at: datetime
) -> LeadIngestedPayload:
    extras = submission.extra_fields()
    utm = {key.removeprefix("utm_"): extras.pop(key) for key in UTM_FIELDS if key in extras}
    return LeadIngestedPayload(
        source="form",
        form_id=form_id,
        email=normalize_email(submission.email),
        first_name=submission.first_name,
        last_name=submission.last_name,
        company=submission.company,
        job_title=submission.job_title,
        phone=submission.phone,
        country=normalize_country(submission.country),
        company_size=submission.company_size,
        industry=submission.industry,
        consent=submission.consent,
        utm=utm,
        attributes=extras,
        submitted_at=submitted_at,
    )
