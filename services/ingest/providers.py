"""Each platform's documented payload, parsed into one `PlatformLead`. Pure: no I/O here.

Field names vary by platform; each parser renames the platform's standard fields to Baton's
and keeps the rest (custom questions) as attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

FACEBOOK_FIELDS = {
    "email": "email",
    "work_email": "email",
    "full_name": "full_name",
    "first_name": "first_name",
    "last_name": "last_name",
    "phone_number": "phone",
    "work_phone_number": "phone",
    "company_name": "company",
    "job_title": "job_title",
    "country": "country",
}
GOOGLE_COLUMNS = {
    "EMAIL": "email",
    "WORK_EMAIL": "email",
    "FULL_NAME": "full_name",
    "FIRST_NAME": "first_name",
    "LAST_NAME": "last_name",
    "PHONE_NUMBER": "phone",
    "WORK_PHONE": "phone",
    "COMPANY_NAME": "company",
    "JOB_TITLE": "job_title",
    "COUNTRY": "country",
}
HUBSPOT_FIELDS = {
    "email": "email",
    "firstname": "first_name",
    "lastname": "last_name",
    "company": "company",
    "jobtitle": "job_title",
    "phone": "phone",
    "mobilephone": "phone",
    "country": "country",
    "numemployees": "company_size",
    "industry": "industry",
    "hs_language": "language",
}


class PayloadInvalid(ValueError):
    """The body does not have the shape the platform documents."""


@dataclass
class PlatformLead:
    """A lead as a platform reported it, with Baton's field names where they are known."""

    external_id: str
    form_id: str | None
    fields: dict[str, Any]
    utm: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    is_test: bool = False
    submitted_at: datetime | None = None


def as_id(value: object, what: str) -> str:
    # Meta and Google send ids as JSON numbers in some payloads and strings in others.
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value) == "":
        raise PayloadInvalid(f"{what} must be a number or a string")
    return str(value)


def as_dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadInvalid(f"{what} must be an object")
    return value


def as_list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise PayloadInvalid(f"{what} must be an array")
    return value


def as_time(value: object) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
        except ValueError:
            return None
    return None


def put_field(fields: dict[str, Any], names: dict[str, str], name: str, value: Any) -> None:
    target = names.get(name, name)
    if target not in fields or fields[target] in (None, ""):
        fields[target] = value


@dataclass(frozen=True)
class LeadgenChange:
    leadgen_id: str
    form_id: str | None
    ad_id: str | None
    page_id: str | None


def facebook_changes(body: object) -> list[LeadgenChange]:
    """The `leadgen` changes of a Meta webhook notification (ids only; the lead is fetched)."""
    changes: list[LeadgenChange] = []
    for entry in as_list(as_dict(body, "body").get("entry"), "entry"):
        for change in as_list(as_dict(entry, "entry[]").get("changes", []), "changes"):
            change = as_dict(change, "changes[]")
            if change.get("field") != "leadgen":
                continue
            value = as_dict(change.get("value"), "value")
            optional = {
                k: as_id(value[k], k) if value.get(k) is not None else None for k in ("form_id", "ad_id")
            }
            changes.append(
                LeadgenChange(
                    leadgen_id=as_id(value.get("leadgen_id"), "leadgen_id"),
                    form_id=optional["form_id"],
                    ad_id=optional["ad_id"],
                    page_id=str(value["page_id"]) if value.get("page_id") is not None else None,
                )
            )
    return changes


def facebook_lead(change: LeadgenChange, graph_lead: object) -> PlatformLead:
    """A lead from the Graph API's `/<leadgen_id>` answer (`field_data`: name and values[])."""
    lead = as_dict(graph_lead, "Graph API lead")
    fields: dict[str, Any] = {}
    for item in as_list(lead.get("field_data"), "field_data"):
        item = as_dict(item, "field_data[]")
        values = item.get("values") or []
        if isinstance(item.get("name"), str) and values:
            put_field(
                fields, FACEBOOK_FIELDS, item["name"], values[0] if len(values) == 1 else ", ".join(values)
            )
    campaign = lead.get("campaign_name") or lead.get("campaign_id")
    utm = {"source": "facebook", "medium": "paid_social"}
    if campaign is not None:
        utm["campaign"] = str(campaign)
    attributes = {
        k: str(lead[k])
        for k in ("ad_id", "ad_name", "adset_id", "adset_name", "campaign_id", "platform", "is_organic")
        if lead.get(k) is not None
    }
    if change.page_id:
        attributes["page_id"] = change.page_id
    form_id = lead.get("form_id") if lead.get("form_id") is not None else change.form_id
    return PlatformLead(
        external_id=change.leadgen_id,
        form_id=str(form_id) if form_id is not None else None,
        fields=fields,
        utm=utm,
        attributes=attributes,
        submitted_at=as_time(lead.get("created_time")),
    )


def google_ads_lead(body: object) -> PlatformLead:
    """A Google Ads lead form webhook: `user_column_data` keyed by `column_id`."""
    data = as_dict(body, "body")
    fields: dict[str, Any] = {}
    for column in as_list(data.get("user_column_data"), "user_column_data"):
        column = as_dict(column, "user_column_data[]")
        name = column.get("column_id") or column.get("column_name")
        if isinstance(name, str) and column.get("string_value") is not None:
            put_field(
                fields,
                GOOGLE_COLUMNS,
                name if name in GOOGLE_COLUMNS else name.lower(),
                column["string_value"],
            )
    utm = {"source": "google", "medium": "cpc"}
    if data.get("campaign_id") is not None:
        utm["campaign"] = as_id(data["campaign_id"], "campaign_id")
    attributes = {
        k: str(data[k])
        for k in ("campaign_id", "adgroup_id", "creative_id", "gcl_id", "asset_id")
        if data.get(k) is not None
    }
    return PlatformLead(
        external_id=as_id(data.get("lead_id"), "lead_id"),
        form_id=as_id(data["form_id"], "form_id") if data.get("form_id") is not None else None,
        fields=fields,
        utm=utm,
        attributes=attributes,
        is_test=data.get("is_test") is True,
    )


def hubspot_lead(body: object, *, external_id: str, form_id: str | None) -> PlatformLead:
    """A HubSpot forms submission: `fields[]` (name/value), `context` and `legalConsentOptions`."""
    data = as_dict(body, "body")
    fields: dict[str, Any] = {}
    for item in as_list(data.get("fields"), "fields"):
        item = as_dict(item, "fields[]")
        if isinstance(item.get("name"), str):
            put_field(fields, HUBSPOT_FIELDS, item["name"], item.get("value"))
    context = as_dict(data.get("context", {}), "context")
    if context.get("hutk"):
        fields["visitor_id"] = str(context["hutk"])
    if context.get("pageUri"):
        fields["page_url"] = str(context["pageUri"])
    attributes = {"page_name": str(context["pageName"])} if context.get("pageName") else {}
    consent = as_dict(data.get("legalConsentOptions", {}), "legalConsentOptions").get("consent")
    if isinstance(consent, dict):
        communications = consent.get("communications") or []
        agreed = [c.get("value") is True for c in communications if isinstance(c, dict)]
        fields["consent"] = consent.get("consentToProcess") is True and all(agreed)
    return PlatformLead(
        external_id=external_id,
        form_id=form_id,
        fields=fields,
        utm={"source": "hubspot"} if not fields.get("page_url") else {},
        attributes=attributes,
        submitted_at=as_time(data.get("submittedAt")),
    )


def typeform_lead(body: object) -> PlatformLead:
    """A Typeform `form_response`: typed `answers[]`, each named by its field's `ref`."""
    response = as_dict(as_dict(body, "body").get("form_response"), "form_response")
    fields: dict[str, Any] = {}
    for answer in as_list(response.get("answers"), "answers"):
        answer = as_dict(answer, "answers[]")
        kind = answer.get("type")
        ref = as_dict(answer.get("field", {}), "answers[].field").get("ref")
        value = _typeform_value(kind, answer)
        if value is None:
            continue
        if kind == "email" and "email" not in fields:
            fields["email"] = value
        elif kind == "phone_number" and "phone" not in fields:
            fields["phone"] = value
        if isinstance(ref, str):
            put_field(fields, {}, ref, value)
    hidden = as_dict(response.get("hidden", {}), "hidden")
    fields.update({str(k): v for k, v in hidden.items() if v not in (None, "")})
    return PlatformLead(
        external_id=as_id(response.get("token"), "token"),
        form_id=as_id(response["form_id"], "form_id") if response.get("form_id") is not None else None,
        fields=fields,
        utm={"source": "typeform"},
        submitted_at=as_time(response.get("submitted_at")),
    )


def _typeform_value(kind: object, answer: dict[str, Any]) -> Any:
    if kind == "choice":
        return (answer.get("choice") or {}).get("label")
    if kind == "choices":
        labels = (answer.get("choices") or {}).get("labels") or []
        return ", ".join(str(label) for label in labels)
    if isinstance(kind, str):
        return answer.get(kind)
    return None
