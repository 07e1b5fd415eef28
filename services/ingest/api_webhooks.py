"""`/v1/webhooks/{provider}`: verify the platform's signature over the raw body, then hand the
parsed payload to one use case. A delivery failing verification changes and publishes nothing."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import SecretStr

from services.ingest import signatures, webhook_docs, webhooks
from services.ingest.dependencies import Protection, ProtectionDep, intake, read_body
from services.ingest.errors import ProviderNotConfigured, SignatureInvalid, WebhookPayloadInvalid
from services.ingest.fetched_leads import facebook_fetched_lead, linkedin_fetched_lead
from services.ingest.form_builders import unbounce_lead, webflow_lead
from services.ingest.linkedin import linkedin_notification
from services.ingest.platform_leads import Parser
from services.ingest.platforms import GraphLeadFetcher, JsonApi, LinkedInLeadFetcher
from services.ingest.providers import (
    PlatformLead,
    facebook_changes,
    google_ads_lead,
    hubspot_lead,
    typeform_lead,
)
from services.ingest.schemas import WebhookAccepted
from services.ingest.settings import IngestSettings
from shared.auth import Forbidden
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _settings(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.settings
    return settings


def _secret(request: Request, setting: str, provider: str) -> str:
    value: SecretStr | None = getattr(_settings(request), setting)
    if value is None or not value.get_secret_value():
        raise ProviderNotConfigured(f"{provider} webhooks are off: set BATON_{setting.upper()}")
    return value.get_secret_value()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise WebhookPayloadInvalid(f"the body is not JSON: {exc}") from exc


@dataclass(frozen=True)
class Verification:
    """How a provider's deliveries prove where they come from: `check(secret, raw body)` with the
    secret in setting `setting` (unset: the provider is off, 404), else 401 saying `refusal`."""

    provider: str
    setting: str
    check: Callable[[str, bytes], bool]
    refusal: str


async def _verified_body(request: Request, guard: Protection, verification: Verification) -> bytes:
    """The raw body of a configured provider's delivery that passed its check; nothing is
    parsed before that."""
    secret = _secret(request, verification.setting, verification.provider)
    body = await read_body(request, guard.max_body_bytes)
    if not verification.check(secret, body):
        raise SignatureInvalid(verification.refusal)
    return body


async def _receive_lead(
    request: Request, guard: Protection, verification: Verification, params: Mapping[str, str | None]
) -> WebhookAccepted:
    """The one path of every provider whose delivery carries the whole lead: verify, then parse,
    map and accept (or quarantine) with `PARSERS[provider]`, which reads the body and `params`."""
    body = await _verified_body(request, guard, verification)
    return await webhooks.receive_delivery(
        intake(request),
        provider=verification.provider,
        body=body,
        params={k: v for k, v in params.items() if v is not None},
        parse=PARSERS[verification.provider],
    )


def _hubspot(body: bytes, params: Mapping[str, str]) -> PlatformLead:
    # HubSpot submissions carry no id of their own: a retry repeats the body, so its digest is the key.
    external_id = params.get("idempotency_key") or hashlib.sha256(body).hexdigest()
    return hubspot_lead(_json(body), external_id=external_id, form_id=params.get("form_id"))


def _unbounce(body: bytes, params: Mapping[str, str]) -> PlatformLead:
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    # Unbounce sends no submission id: a retry repeats the body, so its digest is the key.
    return unbounce_lead(form, external_id=hashlib.sha256(body).hexdigest())


# How each provider whose delivery carries the whole lead is read: on receipt, and again when a
# quarantined delivery is replayed.
PARSERS: dict[str, Parser] = {
    "google-ads": lambda body, _: google_ads_lead(_json(body)),
    "hubspot": _hubspot,
    "typeform": lambda body, _: typeform_lead(_json(body)),
    "webflow": lambda body, _: webflow_lead(_json(body)),
    "unbounce": _unbounce,
    # Meta and LinkedIn leads are fetched; the quarantine keeps what was fetched (fetched_leads.py).
    "facebook": facebook_fetched_lead,
    "linkedin": linkedin_fetched_lead,
}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _google_key(body: bytes) -> object:
    data = _json(body)
    return data.get("google_key") if isinstance(data, dict) else None


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
    expected = _secret(request, "facebook_verify_token", "facebook")
    if mode != "subscribe" or not signatures.shared_key_valid(expected, verify_token):
        raise Forbidden("hub.verify_token does not match")
    return PlainTextResponse(challenge)


@router.post(
    "/facebook",
    summary="Meta Lead Ads leadgen notification (X-Hub-Signature-256)",
    openapi_extra=webhook_docs.FACEBOOK,
)
async def facebook_notification(
    request: Request,
    guard: ProtectionDep,
    x_hub_signature_256: Annotated[str | None, Header()] = None,
) -> WebhookAccepted:
    settings = _settings(request)
    token = _secret(request, "facebook_access_token", "facebook")
    body = await _verified_body(
        request,
        guard,
        Verification(
            "facebook",
            "facebook_app_secret",
            lambda secret, body: signatures.facebook_valid(secret, body, x_hub_signature_256),
            "X-Hub-Signature-256 does not match the body",
        ),
    )
    changes = webhooks.parse_payload(lambda: facebook_changes(_json(body)))
    fetcher = GraphLeadFetcher(_api(settings, settings.facebook_graph_url, "facebook"), token)
    return await webhooks.receive_facebook(intake(request), changes=changes, fetcher=fetcher)


@router.post(
    "/google-ads",
    summary="Google Ads lead form extension (google_key in the body)",
    openapi_extra=webhook_docs.GOOGLE_ADS,
)
async def google_ads_lead_form(request: Request, guard: ProtectionDep) -> WebhookAccepted:
    verification = Verification(
        "google-ads",
        "google_ads_key",
        lambda key, body: signatures.shared_key_valid(key, _google_key(body)),
        "google_key does not match",
    )
    return await _receive_lead(request, guard, verification, {})


@router.get("/linkedin", summary="LinkedIn's challenge validation")
async def linkedin_challenge(
    request: Request, challenge_code: Annotated[str, Query(alias="challengeCode", max_length=200)]
) -> JSONResponse:
    secret = _secret(request, "linkedin_client_secret", "linkedin")
    response = signatures.linkedin_challenge_response(secret, challenge_code)
    return JSONResponse({"challengeCode": challenge_code, "challengeResponse": response})


@router.post(
    "/linkedin",
    summary="LinkedIn Lead Sync notification: CREATED or DELETED (X-LI-Signature)",
    openapi_extra=webhook_docs.LINKEDIN,
)
async def linkedin_notification_received(
    request: Request,
    session: SessionDep,
    guard: ProtectionDep,
    x_li_signature: Annotated[str | None, Header()] = None,
) -> WebhookAccepted:
    settings = _settings(request)
    body = await _verified_body(
        request,
        guard,
        Verification(
            "linkedin",
            "linkedin_client_secret",
            lambda secret, body: signatures.linkedin_valid(secret, body, x_li_signature),
            "X-LI-Signature does not match the body",
        ),
    )
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
        intake(request),
        notification=notification,
        fetcher=LinkedInLeadFetcher(api),
        forms=request.app.state.linkedin_forms,
    )


@router.post(
    "/hubspot",
    summary="HubSpot form submission: fields[], context, consent (X-HubSpot-Signature-v3)",
    openapi_extra=webhook_docs.HUBSPOT,
)
async def hubspot_submission(
    request: Request,
    guard: ProtectionDep,
    form_id: Annotated[str | None, Query(alias="formGuid", max_length=200)] = None,
    x_hubspot_signature_v3: Annotated[str | None, Header()] = None,
    x_hubspot_request_timestamp: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> WebhookAccepted:
    def check(secret: str, body: bytes) -> bool:
        return signatures.hubspot_v3_valid(
            secret,
            method=request.method,
            uri=str(request.url),
            body=body,
            timestamp=x_hubspot_request_timestamp,
            header=x_hubspot_signature_v3,
            now_ms=_now_ms(),
        )

    verification = Verification(
        "hubspot",
        "hubspot_client_secret",
        check,
        "X-HubSpot-Signature-v3 does not match, or the timestamp is stale",
    )
    params = {"form_id": form_id, "idempotency_key": idempotency_key}
    return await _receive_lead(request, guard, verification, params)


@router.post(
    "/typeform", summary="Typeform form_response (Typeform-Signature)", openapi_extra=webhook_docs.TYPEFORM
)
async def typeform_response(
    request: Request,
    guard: ProtectionDep,
    typeform_signature: Annotated[str | None, Header()] = None,
) -> WebhookAccepted:
    verification = Verification(
        "typeform",
        "typeform_secret",
        lambda secret, body: signatures.typeform_valid(secret, body, typeform_signature),
        "Typeform-Signature does not match the body",
    )
    return await _receive_lead(request, guard, verification, {})


@router.post(
    "/webflow",
    summary="Webflow form_submission (x-webflow-signature over timestamp and body)",
    openapi_extra=webhook_docs.WEBFLOW,
)
async def webflow_submission(
    request: Request,
    guard: ProtectionDep,
    x_webflow_signature: Annotated[str | None, Header()] = None,
    x_webflow_timestamp: Annotated[str | None, Header()] = None,
) -> WebhookAccepted:
    verification = Verification(
        "webflow",
        "webflow_secret",
        lambda secret, body: signatures.webflow_valid(
            secret, body, timestamp=x_webflow_timestamp, header=x_webflow_signature, now_ms=_now_ms()
        ),
        "x-webflow-signature does not match, or the timestamp is outside the window",
    )
    return await _receive_lead(request, guard, verification, {})


@router.post(
    "/unbounce",
    summary="Unbounce form post (form-encoded, data.json; ?token= authenticates)",
    openapi_extra=webhook_docs.UNBOUNCE,
)
async def unbounce_submission(
    request: Request,
    guard: ProtectionDep,
    token: Annotated[str | None, Query(max_length=200)] = None,
) -> WebhookAccepted:
    verification = Verification(
        "unbounce",
        "unbounce_token",
        lambda expected, _: signatures.shared_key_valid(expected, token),
        "the token in the webhook URL does not match",
    )
    return await _receive_lead(request, guard, verification, {})
