"""Form builders' webhooks (Webflow, Unbounce), whose fields are named by their labels."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from services.ingest.labels import LABEL_FIELDS, field_for_label, label_key
from services.ingest.providers import Answers, PayloadInvalid, PlatformLead, as_dict, as_id, as_time

__all__ = ["LABEL_FIELDS", "label_key", "unbounce_lead", "webflow_lead"]


def _labelled(data: dict[str, Any]) -> Answers:
    # Form builders name fields by their labels ("Email Address", "Phone Number").
    answers = Answers()
    for label, value in data.items():
        answers.put(str(label), value, field_for_label(str(label)) or label_key(str(label)))
    return answers


def webflow_lead(body: object) -> PlatformLead:
    """A Webflow `form_submission` webhook: `payload.data` keyed by the form's field labels."""
    data = as_dict(body, "body")
    if data.get("triggerType") != "form_submission":
        raise PayloadInvalid("triggerType must be form_submission")
    payload = as_dict(data.get("payload"), "payload")
    answers = _labelled(as_dict(payload.get("data"), "payload.data"))
    fields = answers.fields
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
        answers=answers.raw,
        origins=answers.origins,
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
    submitted_at = unbounce_time(values.pop("date_submitted", None), values.pop("time_submitted", None))
    # The page's own fields ride in `data.json` too. They describe the page, not the person:
    # read as labels, `page_name` would become the lead's name.
    page = {k: v for k in ("page_url", "page_name", "page_uuid", "variant") if (v := values.pop(k, None))}
    answers = _labelled(values)
    fields = answers.fields
    page_url = form.get("page_url") or page.get("page_url")
    if page_url:
        fields["page_url"] = page_url
    described = {
        "page_id": form.get("page_id") or page.get("page_uuid"),
        "page_name": form.get("page_name") or page.get("page_name"),
        "variant": form.get("variant") or page.get("variant"),
    }
    attributes = {k: v for k, v in described.items() if v}
    # An Unbounce page is built for one campaign: its name is the campaign unless the page
    # address carries a `utm_campaign` (which takes precedence when the lead is normalized).
    utm = {"campaign": attributes["page_name"]} if "page_name" in attributes else {}
    if not page_url:
        utm["source"] = "unbounce"
    return PlatformLead(
        external_id=external_id,
        form_id=attributes.get("page_id"),
        fields=fields,
        utm=utm,
        attributes=attributes,
        submitted_at=submitted_at,
        answers=answers.raw,
        origins=answers.origins,
    )


def unbounce_time(date: str | None, time: str | None) -> datetime | None:
    """Unbounce's `date_submitted` (`2014-07-01`) and `time_submitted` (`04:17 PM UTC`) as one
    instant; None unless both parse (the time alone names no day)."""
    if not date or not time:
        return None
    clock, _, zone = time.strip().rpartition(" ")
    if zone.upper() != "UTC":
        clock, zone = time.strip(), "UTC"
    try:
        return datetime.strptime(f"{date.strip()} {clock}", "%Y-%m-%d %I:%M %p").replace(tzinfo=UTC)
    except ValueError:
        return None
