"""The request bodies of `/v1/webhooks/{provider}`, for the OpenAPI document only.

These routes read the raw body (the signature covers its exact bytes), so FastAPI cannot infer a
body from their parameters. Each schema names what the parser reads and leaves the rest open: a
platform adds fields without notice, and ingest ignores what it does not map."""

from __future__ import annotations

from typing import Any


def _body(media_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


def _object(title: str, description: str, required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "title": title,
        "description": description,
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": True,
    }


_STRING = {"type": "string"}
_ID = {"type": ["string", "integer"]}

FACEBOOK = _body(
    "application/json",
    _object(
        "MetaLeadgenNotification",
        "Meta's webhook notification for the `leadgen` field of a Page "
        "(https://developers.facebook.com/docs/graph-api/webhooks/getting-started/webhooks-for-leadgen). "
        "It carries ids only: ingest fetches each lead from the Graph API.",
        ["entry"],
        object={"type": "string", "examples": ["page"]},
        entry={
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": _ID,
                    "time": {"type": "integer"},
                    "changes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "field": {"type": "string", "examples": ["leadgen"]},
                                "value": {
                                    "type": "object",
                                    "required": ["leadgen_id"],
                                    "properties": dict.fromkeys(
                                        ("leadgen_id", "form_id", "ad_id", "page_id"), _ID
                                    )
                                    | {"created_time": {"type": "integer"}},
                                },
                            },
                        },
                    },
                },
            },
        },
    ),
)

GOOGLE_ADS = _body(
    "application/json",
    _object(
        "GoogleAdsLeadFormWebhook",
        "A Google Ads lead form extension's webhook "
        "(https://developers.google.com/google-ads/webhook/docs/implementation); `google_key` is "
        "the key configured on the form, checked against BATON_GOOGLE_ADS_KEY.",
        ["google_key", "user_column_data"],
        lead_id=_STRING,
        google_key=_STRING,
        api_version=_STRING,
        form_id=_ID,
        campaign_id=_ID,
        gcl_id=_STRING,
        is_test={"type": "boolean"},
        user_column_data={
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"column_id": _STRING, "column_name": _STRING, "string_value": _STRING},
            },
        },
    ),
)

LINKEDIN = _body(
    "application/json",
    _object(
        "LinkedInLeadNotification",
        "A LinkedIn Lead Sync notification "
        "(https://learn.microsoft.com/en-us/linkedin/marketing/lead-sync/leadsync); ingest fetches "
        "the form response it names.",
        ["leadAction", "leadGenFormResponse"],
        leadAction={"type": "string", "enum": ["CREATED", "DELETED"]},
        leadGenFormResponse={"type": "string", "description": "The form response's URN."},
        leadGenForm={"type": "string", "description": "The form's URN."},
        occurredAt={"type": "integer", "description": "Milliseconds since the epoch."},
    ),
)

HUBSPOT = _body(
    "application/json",
    _object(
        "HubSpotFormSubmission",
        "A HubSpot form submission (https://developers.hubspot.com/docs/api-reference/legacy/"
        "marketing/forms/v3-legacy/submit-data-authenticated): `fields`, `context`, consent.",
        ["fields"],
        submittedAt={"type": ["string", "integer"]},
        fields={
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": _STRING, "value": _STRING, "objectTypeId": _STRING},
            },
        },
        context={
            "type": "object",
            "properties": {"hutk": _STRING, "pageUri": _STRING, "pageName": _STRING, "ipAddress": _STRING},
        },
        legalConsentOptions={"type": "object"},
    ),
)

TYPEFORM = _body(
    "application/json",
    _object(
        "TypeformFormResponse",
        "Typeform's `form_response` webhook (https://www.typeform.com/developers/webhooks/example-payload/).",
        ["form_response"],
        event_id=_STRING,
        event_type={"type": "string", "examples": ["form_response"]},
        form_response={
            "type": "object",
            "required": ["answers"],
            "properties": {
                "form_id": _STRING,
                "token": _STRING,
                "submitted_at": _STRING,
                "hidden": {"type": "object"},
                "definition": {"type": "object", "properties": {"fields": {"type": "array"}}},
                "answers": {"type": "array", "items": {"type": "object"}},
            },
        },
    ),
)

WEBFLOW = _body(
    "application/json",
    _object(
        "WebflowFormSubmission",
        "Webflow's `form_submission` webhook (https://developers.webflow.com/data/docs/working-with-webhooks).",
        ["triggerType", "payload"],
        triggerType={"type": "string", "enum": ["form_submission"]},
        payload={
            "type": "object",
            "required": ["id", "data"],
            "properties": {
                "id": _STRING,
                "name": _STRING,
                "siteId": _STRING,
                "formId": _STRING,
                "submittedAt": _STRING,
                "data": {"type": "object", "description": "The form's fields by label."},
            },
        },
    ),
)

UNBOUNCE = _body(
    "application/x-www-form-urlencoded",
    _object(
        "UnbounceFormPost",
        "Unbounce's form webhook: form-encoded, the submission in `data.json`; the `token` query "
        "parameter authenticates it.",
        ["data.json"],
        **{
            "data.json": {
                "type": "string",
                "description": "A JSON object of the form's fields, each value an array of strings.",
            },
            "data.xml": _STRING,
            "page_id": _STRING,
            "page_url": _STRING,
            "variant": _STRING,
        },
    ),
)
