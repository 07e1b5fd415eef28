"""Form builders' webhooks (Webflow, Unbounce), whose fields are named by their labels."""

from __future__ import annotations

import json
from typing import Any

from services.ingest.providers import PayloadInvalid, PlatformLead, as_dict, as_id, as_time, put_field

# Form builders name fields by their labels ("Email Address", "Phone Number"): match by slug.
LABEL_FIELDS = {
    "email": "email",
    "email_address": "email",
    "work_email": "email",
    "name": "full_name",
    "full_name": "full_name",
    "your_name": "full_name",
    "first_name": "first_name",
    "last_name": "last_name",
    "company": "company",
    "company_name": "company",
    "organization": "company",
    "job_title": "job_title",
    "title": "job_title",
    "phone": "phone",
    "phone_number": "phone",
    "country": "country",
    "company_size": "company_size",
    "industry": "industry",
    "state": "state",
    "province": "state",
    "language": "language",
    "preferred_language": "language",
    "product": "product_interest",
    "product_interest": "product_interest",
}


def label_key(label: str) -> str:
    return "_".join("".join(c if c.isalnum() else " " for c in label.lower()).split())


def _labelled(data: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for label, value in data.items():
        key = label_key(str(label))
        put_field(fields, LABEL_FIELDS, key, value)
    return fields


def webflow_lead(body: object) -> PlatformLead:
    """A Webflow `form_submission` webhook: `payload.data` keyed by the form's field labels."""
    data = as_dict(body, "body")
    if data.get("triggerType") != "form_submission":
        raise PayloadInvalid("triggerType must be form_submission")
    payload = as_dict(data.get("payload"), "payload")
    fields = _labelled(as_dict(payload.get("data"), "payload.data"))
    attributes = {"form_name": str(payload["name"])} if payload.get("name") else {}
    if payload.get("siteId"):
        attributes["site_id"] = str(payload["siteId"])
    return PlatformLead(
        external_id=as_id(payload.get("id"), "payload.id"),
        form_id=str(payload["formId"]) if payload.get("formId") else None,
        fields=fields,
        utm={"source": "webflow"} if not fields.get("page_url") else {},
        attributes=attributes,
        submitted_at=as_time(payload.get("submittedAt")),
    )


def unbounce_lead(form: dict[str, str], *, external_id: str) -> PlatformLead:
    """An Unbounce webhook: form-encoded, the submission in `data.json` with every value an array."""
    try:
        data = json.loads(form.get("data.json", ""))
    except ValueError as exc:
        raise PayloadInvalid("data.json must be JSON") from exc
    values: dict[str, Any] = {}
    for key, value in as_dict(data, "data.json").items():
        items = value if isinstance(value, list) else [value]
        values[str(key)] = ", ".join(str(v) for v in items if v is not None)
    fields = _labelled(values)
    page_url = form.get("page_url") or values.get("page_url")
    if page_url:
        fields["page_url"] = page_url
    attributes = {k: form[k] for k in ("page_id", "page_name", "variant") if form.get(k)}
    return PlatformLead(
        external_id=external_id,
        form_id=form.get("page_id"),
        fields=fields,
        utm={} if page_url else {"source": "unbounce"},
        attributes=attributes,
    )
