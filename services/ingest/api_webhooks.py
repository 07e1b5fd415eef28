"""`/v1/webhooks/{provider}`: verify the platform's signature over the raw body, then hand the
parsed payload to one use case. A delivery failing verification changes and publishes nothing."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import SecretStr

from services.ingest import signatures, webhooks
from services.ingest.dependencies import ProtectionDep, read_body
from services.ingest.errors import ProviderNotConfigured, SignatureInvalid, WebhookPayloadInvalid
from services.ingest.form_builders import unbounce_lead, webflow_lead
from services.ingest.linkedin import linkedin_notification
from services.ingest.platforms import GraphLeadFetcher, JsonApi, LinkedInLeadFetcher
from services.ingest.providers import facebook_changes, google_ads_lead, hubspot_lead, typeform_lead
from services.ingest.schemas import WebhookAccepted
from services.ingest.settings import IngestSettings
from shared.auth import Forbidden
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _settings(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.settings
    return settings


def _secret(value: SecretStr | None, provider: str, name: str) -> str:
    if value is None or not value.get_secret_value():
        raise ProviderNotConfigured(f"{provider} webhooks are off: set BATON_{name}")
    return value.get_secret_value()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise WebhookPayloadInvalid(f"the body is not JSON: {exc}") from exc


def _api(settings: IngestSettings, base_url: str, platform: str, **headers: str) -> JsonApi:
    return JsonApi(
        base_url,
        platform=platform,
        attempts=settings.platform_fetch_attempts,
        backoff_s=settings.platform_fetch_backoff_s,
        headers=headers,
    )


@router.get("/facebook", summary="Meta's subscription handshake: echo hub.challenge")
async def facebook_verify(
    request: Request,
    mode: Annotated[str, Query(alias="hub.mode")],
    verify_token: Annotated[str, Query(alias="hub.verify_token")],
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=200)],
) -> PlainTextResponse:
    expected = _secret(_settings(request).facebook_verify_token, "facebook", "FACEBOOK_VERIFY_TOKEN")
    if mode != "subscribe" or not signatures.shared_key_valid(expected, verify_token):
        raise Forbidden("hub.verify_token does not match")
    return PlainTextResponse(challenge)


@router.post("/facebook", summary="Meta Lead Ads leadgen notification (X-Hub-Signature-256)")
async def facebook_notification(
    request: Request,
    session: SessionDep,
    guard: ProtectionDep,
    x_hub_signature_256: Annotated[str | None, Header()] = None,
) -> WebhookAccepted:
    settings = _settings(request)
    secret = _secret(settings.facebook_app_secret, "facebook", "FACEBOOK_APP_SECRET")
    token = _secret(settings.facebook_access_token, "facebook", "FACEBOOK_ACCESS_TOKEN")
    body = await read_body(request, guard.max_body_bytes)
    if not signatures.facebook_valid(secret, body, x_hub_signature_256):
        raise SignatureInvalid("X-Hub-Signature-256 does not match the body")
    changes = webhooks.parse_payload(lambda: facebook_changes(_json(body)))
    fetcher = GraphLeadFetcher(_api(settings, settings.facebook_graph_url, "facebook"), token)
    return await webhooks.receive_facebook(session, changes=changes, fetcher=fetcher)


@router.post("/google-ads", summary="Google Ads lead form extension (google_key in the body)")
async def google_ads_lead_form(
    request: Request, session: SessionDep, guard: ProtectionDep
) -> WebhookAccepted:
    key = _secret(_settings(request).google_ads_key, "google-ads", "GOOGLE_ADS_KEY")
    body = _json(await read_body(request, guard.max_body_bytes))
    if not isinstance(body, dict) or not signatures.shared_key_valid(key, body.get("google_key")):
        raise SignatureInvalid("google_key does not match")
    lead = webhooks.parse_payload(lambda: google_ads_lead(body))
    return await webhooks.ingest_platform_leads(session, provider="google-ads", leads=[lead])


@router.get("/linkedin", summary="LinkedIn's challenge validation")
async def linkedin_challenge(
    request: Request, challenge_code: Annotated[str, Query(alias="challengeCode", max_length=200)]
) -> JSONResponse:
    secret = _secret(_settings(request).linkedin_client_secret, "linkedin", "LINKEDIN_CLIENT_SECRET")
    response = signatures.linkedin_challenge_response(secret, challenge_code)
    return JSONResponse({"challengeCode": challenge_code, "challengeResponse": response})


@router.post("/linkedin", summary="LinkedIn Lead Sync notification: CREATED or DELETED (X-LI-Signature)")
async def linkedin_notification_received(
    request: Request,
    session: SessionDep,
    guard: ProtectionDep,
    x_li_signature: Annotated[str | None, Header()] = None,
) -> WebhookAccepted:
    settings = _settings(request)
    secret = _secret(settings.linkedin_client_secret, "linkedin", "LINKEDIN_CLIENT_SECRET")
    body = await read_body(request, guard.max_body_bytes)
    if not signatures.linkedin_valid(secret, body, x_li_signature):
        raise SignatureInvalid("X-LI-Signature does not match the body")
    notification = webhooks.parse_payload(lambda: linkedin_notification(_json(body)))
    token = settings.linkedin_access_token.get_secret_value() if settings.linkedin_access_token else ""
    api = _api(
        settings,
        settings.linkedin_api_url,
        "linkedin",
        Authorization=f"Bearer {token}",
        **{"LinkedIn-Version": "202411", "X-Restli-Protocol-Version": "2.0.0"},
    )
    return await webhooks.receive_linkedin(
        session,
        notification=notification,
        fetcher=LinkedInLeadFetcher(api),
        forms=request.app.state.linkedin_forms,
    )


@router.post(
    "/hubspot", summary="HubSpot form submission: fields[], context, consent (X-HubSpot-Signature-v3)"
)
async def hubspot_submission(
    request: Request,
    session: SessionDep,
    guard: ProtectionDep,
    form_id: Annotated[str | None, Query(alias="formGuid", max_length=200)] = None,
    x_hubspot_signature_v3: Annotated[str | None, Header()] = None,
    x_hubspot_request_timestamp: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> WebhookAccepted:
    secret = _secret(_settings(request).hubspot_client_secret, "hubspot", "HUBSPOT_CLIENT_SECRET")
    body = await read_body(request, guard.max_body_bytes)
    valid = signatures.hubspot_v3_valid(
        secret,
        method=request.method,
        uri=str(request.url),
        body=body,
        timestamp=x_hubspot_request_timestamp,
        header=x_hubspot_signature_v3,
        now_ms=int(time.time() * 1000),
    )
    if not valid:
        raise SignatureInvalid("X-HubSpot-Signature-v3 does not match, or the timestamp is stale")
    # HubSpot submissions carry no id of their own: a retry repeats the body, so its digest is the key.
    external_id = idempotency_key or hashlib.sha256(body).hexdigest()
    data = _json(body)
    lead = webhooks.parse_payload(lambda: hubspot_lead(data, external_id=external_id, form_id=form_id))
    return await webhooks.ingest_platform_leads(session, provider="hubspot", leads=[lead])


@router.post("/typeform", summary="Typeform form_response (Typeform-Signature)")
async def typeform_response(
    request: Request,
    session: SessionDep,
    guard: ProtectionDep,
    typeform_signature: Annotated[str | None, Header()] = None,
) -> WebhookAccepted:
    secret = _secret(_settings(request).typeform_secret, "typeform", "TYPEFORM_SECRET")
    body = await read_body(request, guard.max_body_bytes)
    if not signatures.typeform_valid(secret, body, typeform_signature):
        raise SignatureInvalid("Typeform-Signature does not match the body")
    data = _json(body)
    lead = webhooks.parse_payload(lambda: typeform_lead(data))
    return await webhooks.ingest_platform_leads(session, provider="typeform", leads=[lead])


@router.post("/webflow", summary="Webflow form_submission (x-webflow-signature over timestamp and body)")
async def webflow_submission(
    request: Request,
    session: SessionDep,
    guard: ProtectionDep,
    x_webflow_signature: Annotated[str | None, Header()] = None,
    x_webflow_timestamp: Annotated[str | None, Header()] = None,
) -> WebhookAccepted:
    secret = _secret(_settings(request).webflow_secret, "webflow", "WEBFLOW_SECRET")
    body = await read_body(request, guard.max_body_bytes)
    valid = signatures.webflow_valid(
        secret,
        body,
        timestamp=x_webflow_timestamp,
        header=x_webflow_signature,
        now_ms=int(time.time() * 1000),
    )
    if not valid:
        raise SignatureInvalid("x-webflow-signature does not match, or the timestamp is outside the window")
    data = _json(body)
    lead = webhooks.parse_payload(lambda: webflow_lead(data))
    return await webhooks.ingest_platform_leads(session, provider="webflow", leads=[lead])


@router.post("/unbounce", summary="Unbounce form post (form-encoded, data.json; ?token= authenticates)")
async def unbounce_submission(
    request: Request,
    session: SessionDep,
    guard: ProtectionDep,
    token: Annotated[str | None, Query(max_length=200)] = None,
) -> WebhookAccepted:
    expected = _secret(_settings(request).unbounce_token, "unbounce", "UNBOUNCE_TOKEN")
    if not signatures.shared_key_valid(expected, token):
        raise SignatureInvalid("the token in the webhook URL does not match")
    body = await read_body(request, guard.max_body_bytes)
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    # Unbounce sends no submission id: a retry repeats the body, so its digest is the key.
    external_id = hashlib.sha256(body).hexdigest()
    lead = webhooks.parse_payload(lambda: unbounce_lead(form, external_id=external_id))
    return await webhooks.ingest_platform_leads(session, provider="unbounce", leads=[lead])
