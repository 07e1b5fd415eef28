"""Each platform's documented payload, parsed into one `PlatformLead`. Pure: no I/O here.

Field names vary by platform; each parser renames the platform's standard fields to Baton's
and keeps the rest (custom questions) as attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.ingest.labels import field_for_label

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
    answers: dict[str, Any] = field(default_factory=dict)
    """Every answer under the platform's own name for it (a Typeform ref, a form builder's
    label, a Meta field name), for the field maps an admin configures per provider and form."""
    origins: dict[str, str] = field(default_factory=dict)
    """Which answer (its platform name) each of `fields` came from."""


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
    """An instant from epoch seconds or milliseconds (a number, or digits in a string, as HubSpot
    documents `submittedAt`) or an ISO-8601 string; None when it is neither."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
        except ValueError:
            return None
    return None


@dataclass
class Answers:
    """A platform's answers as they are read: each under the Baton field it names while that is
    still empty, else under its own name, so a second phone number stays an attribute rather
    than vanishing; `raw` and `origins` keep what the platform called each one."""

    fields: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)

    def put(self, name: str, value: Any, target: str | None = None) -> None:
        self.raw[name] = value
        for key in (target, name, f"{name}_{len(self.raw)}"):
            if key and self.fields.get(key) in (None, ""):
                self.fields[key] = value
                self.origins[key] = name
                return


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
    answers = Answers()
    for item in as_list(lead.get("field_data"), "field_data"):
        item = as_dict(item, "field_data[]")
        values = item.get("values") or []
        values = values if isinstance(values, list) else [values]
        if isinstance(item.get("name"), str) and values:
            value = values[0] if len(values) == 1 else ", ".join(str(v) for v in values)
            answers.put(item["name"], value, FACEBOOK_FIELDS.get(item["name"]))
    fields = answers.fields
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
    consent = facebook_consent(lead.get("custom_disclaimer_responses"))
    if consent is not None:
        fields["consent"] = consent
    form_id = lead.get("form_id") if lead.get("form_id") is not None else change.form_id
    return PlatformLead(
        external_id=change.leadgen_id,
        form_id=str(form_id) if form_id is not None else None,
        fields=fields,
        utm=utm,
        attributes=attributes,
        submitted_at=as_time(lead.get("created_time")),
        answers=answers.raw,
        origins=answers.origins,
    )


def facebook_consent(responses: object) -> bool | None:
    """The lead's answers to the form's custom disclaimer checkboxes (`checkbox_key`,
    `is_checked` "1" or "0"): true only if every box was ticked; None when there were none."""
    answered = [r for r in responses if isinstance(r, dict)] if isinstance(responses, list) else []
    if not answered:
        return None
    return all(str(r.get("is_checked")).lower() in ("1", "true") for r in answered)


def google_ads_lead(body: object) -> PlatformLead:
    """A Google Ads lead form webhook: `user_column_data` keyed by `column_id`."""
    data = as_dict(body, "body")
    answers = Answers()
    for column in as_list(data.get("user_column_data"), "user_column_data"):
        column = as_dict(column, "user_column_data[]")
        name = column.get("column_id") or column.get("column_name")
        if isinstance(name, str) and column.get("string_value") is not None:
            answers.put(name, column["string_value"], GOOGLE_COLUMNS.get(name) or name.lower())
    utm = {"source": "google", "medium": "cpc"}
    if data.get("campaign_id") is not None:
        utm["campaign"] = as_id(data["campaign_id"], "campaign_id")
    attributes = {
        k: str(data[k])
        for k in (
            "campaign_id",
            "adgroup_id",
            "creative_id",
            "gcl_id",
            "asset_id",
            "asset_group_id",
            "lead_stage",
        )
        if data.get(k) is not None
    }
    return PlatformLead(
        external_id=as_id(data.get("lead_id"), "lead_id"),
        form_id=as_id(data["form_id"], "form_id") if data.get("form_id") is not None else None,
        fields=answers.fields,
        utm=utm,
        attributes=attributes,
        is_test=data.get("is_test") is True,
        submitted_at=as_time(data.get("lead_submit_time")),
        answers=answers.raw,
        origins=answers.origins,
    )


def hubspot_lead(body: object, *, external_id: str, form_id: str | None) -> PlatformLead:
    """A HubSpot forms submission: `fields[]` (name/value), `context` and `legalConsentOptions`."""
    data = as_dict(body, "body")
    answers = Answers()
    for item in as_list(data.get("fields"), "fields"):
        item = as_dict(item, "fields[]")
        if isinstance(item.get("name"), str):
            answers.put(item["name"], item.get("value"), HUBSPOT_FIELDS.get(item["name"]))
    fields = answers.fields
    context = as_dict(data.get("context", {}), "context")
    if context.get("hutk"):
        fields["visitor_id"] = str(context["hutk"])
    if context.get("pageUri"):
        fields["page_url"] = str(context["pageUri"])
    attributes = {"page_name": str(context["pageName"])} if context.get("pageName") else {}
    options = as_dict(data.get("legalConsentOptions", {}), "legalConsentOptions")
    consent = options.get("consent")
    interest = options.get("legitimateInterest")
    if isinstance(interest, dict) and interest.get("legalBasis"):
        # A legal basis for processing, not the person's consent: kept, not mapped to consent.
        attributes["legal_basis"] = str(interest["legalBasis"])
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
        answers=answers.raw,
        origins=answers.origins,
    )


def typeform_lead(body: object) -> PlatformLead:
    """A Typeform `form_response`. An answer may name its question only by `field.id`: its ref and
    title are then found in `definition.fields`. Typed answers (email, phone number, legal) fill
    their Baton field; others by what their ref or title asks, else under their ref as attributes."""
    response = as_dict(as_dict(body, "body").get("form_response"), "form_response")
    definition = as_dict(response.get("definition") or {}, "definition")
    questions = {
        str(question["id"]): question
        for question in as_list(definition.get("fields") or [], "definition.fields")
        if isinstance(question, dict) and question.get("id") is not None
    }
    answers = Answers()
    for index, item in enumerate(as_list(response.get("answers"), "answers")):
        answer = as_dict(item, "answers[]")
        kind = answer.get("type")
        asked = as_dict(answer.get("field", {}), "answers[].field")
        question = questions.get(str(asked.get("id")), {})
        ref, title = asked.get("ref") or question.get("ref"), question.get("title")
        name = str(ref or title or asked.get("id") or f"answer_{index + 1}")
        value = _typeform_value(kind, answer)
        if value is None:
            continue
        answers.put(name, value, _typeform_target(kind, asked, ref, title))
    fields = answers.fields
    hidden = as_dict(response.get("hidden") or {}, "hidden")
    fields.update({str(k): v for k, v in hidden.items() if v not in (None, "")})
    score = as_dict(response.get("calculated") or {}, "calculated").get("score")
    return PlatformLead(
        external_id=as_id(response.get("token"), "token"),
        form_id=as_id(response["form_id"], "form_id") if response.get("form_id") is not None else None,
        fields=fields,
        utm={"source": "typeform"},
        attributes={"typeform_score": str(score)} if score is not None else {},
        submitted_at=as_time(response.get("submitted_at")),
        answers=answers.raw,
        origins=answers.origins,
    )


def _typeform_target(kind: object, asked: dict[str, Any], ref: object, title: object) -> str | None:
    if kind == "email":
        return "email"
    if kind == "phone_number":
        return "phone"
    if asked.get("type") == "legal" and kind == "boolean":
        # A legal question is the respondent's consent, collected by the platform.
        return "consent"
    for label in (ref, title):
        target = field_for_label(label) if isinstance(label, str) else None
        if target:
            return target
    return None


def _typeform_value(kind: object, answer: dict[str, Any]) -> Any:
    if kind == "choice":
        choice = answer.get("choice")
        return (choice.get("label") or choice.get("other")) if isinstance(choice, dict) else choice
    if kind == "choices":
        choices = answer.get("choices")
        if not isinstance(choices, dict):
            return choices
        labels = choices.get("labels")
        given = [
            *(labels if isinstance(labels, list) else []),
            *([choices["other"]] if choices.get("other") else []),
        ]
        return ", ".join(str(label) for label in given)
    if isinstance(kind, str):
        return answer.get(kind)
    return None
