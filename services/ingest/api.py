"""Ingest's HTTP routes for forms, leads, sources and activity: parse, call one use case, answer."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from services.ingest import activities, service
from services.ingest.dependencies import (
    FORM_POST_PARAMETERS,
    ProtectionDep,
    SourceDep,
    form_post,
    intake,
    read_body,
)
from services.ingest.errors import UnsupportedMediaType
from services.ingest.schemas import (
    MAX_BATCH,
    AccountCreate,
    AccountRead,
    ActivityBatch,
    ActivityBatchResult,
    ActivityCreate,
    ErasureDone,
    ErasureRequest,
    FormCreate,
    FormRead,
    SourceCreate,
    SourceCreated,
    SourceRead,
    SubmissionAccepted,
    ValidActivityBatch,
)
from shared.auth import Principal, Role, require_roles
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1")

FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_schema_ref = {"$ref": "#/components/schemas/FormSubmissionCreate"}
FormId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")]
Admin = Annotated[Principal, Depends(require_roles())]
Configurer = Annotated[Principal, Depends(require_roles(Role.MARKETING))]
AccountManager = Annotated[Principal, Depends(require_roles(Role.MANAGER, Role.SALES))]


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": f"invalid JSON: {exc}", "type": "json_invalid"}]
        ) from exc
    if not isinstance(parsed, dict):
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "expected a JSON object", "type": "dict_type"}]
        )
    return parsed


async def _submitted_fields(request: Request, limit: int) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    body = await read_body(request, limit)
    if content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if content_type in FORM_MEDIA_TYPES:
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    if content_type == "application/json" or content_type.endswith("+json"):
        return parse_json_object(body)
    raise UnsupportedMediaType(f"{content_type!r} is not accepted; send application/json or a form encoding")


def field_errors(exc: ValidationError, *prefix: str) -> RequestValidationError:
    return RequestValidationError([{**e, "loc": (*prefix, *e["loc"])} for e in exc.errors(include_url=False)])


@router.post(
    "/forms/{form_id}/submissions",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SubmissionAccepted,
    responses={
        303: {"description": "A browser's form post, sent on to the form's success URL (or its retURL)"},
        422: {"description": "Validation Error"},
    },
    tags=["forms"],
    summary="Submit a fill of a configured form (JSON or form-encoded, as a browser posts it)",
    openapi_extra={
        "parameters": FORM_POST_PARAMETERS,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _schema_ref},
                "application/x-www-form-urlencoded": {"schema": _schema_ref},
            },
        },
    },
)
async def submit_form(request: Request) -> Response:
    # The hottest route: its parameters are read by `form_post`, not declared, and its answer
    # serialized here, not by FastAPI (see `form_post`).
    post = await form_post(request)
    fields = await _submitted_fields(request, post.protection.max_body_bytes)
    try:
        answer = await service.submit_form(
            intake(request),
            form_id=post.form_id,
            fields=fields,
            idempotency_key=post.idempotency_key,
            origin=request.headers.get("origin"),
            referer=request.headers.get("referer"),
            check_origin=post.key is None,
            browser=_browser_post(request),
        )
    except ValidationError as exc:
        raise field_errors(exc, "body") from exc
    if answer.redirect_to is not None:
        return RedirectResponse(answer.redirect_to, status_code=status.HTTP_303_SEE_OTHER)
    return Response(
        answer.accepted.model_dump_json(), status_code=status.HTTP_202_ACCEPTED, media_type="application/json"
    )


def _browser_post(request: Request) -> bool:
    """A browser submitting an HTML form (form-encoded, wanting a page back), not an API client."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in FORM_MEDIA_TYPES and "text/html" in request.headers.get("accept", "")


@router.post("/forms", status_code=status.HTTP_201_CREATED, tags=["forms"], summary="Configure a form")
async def save_form(
    form: FormCreate, session: SessionDep, guard: ProtectionDep, principal: Configurer
) -> FormRead:
    return await service.save_form(session, form=form, actor=principal.subject, cache=guard.forms)


@router.delete(
    "/forms/{form_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["forms"],
    summary="Remove a form's configuration (its leads stay)",
)
async def delete_form(
    form_id: FormId, session: SessionDep, guard: ProtectionDep, principal: Configurer
) -> Response:
    await service.delete_form(session, form_id=form_id, actor=principal.subject, cache=guard.forms)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/forms", tags=["forms"], summary="Every configured form")
async def list_forms(session: SessionDep, _: Configurer) -> list[FormRead]:
    return await service.list_forms(session)


@router.get("/forms/{form_id}", tags=["forms"], summary="One form's configuration")
async def get_form(form_id: FormId, session: SessionDep, _: Configurer) -> FormRead:
    return await service.find_form(session, form_id=form_id)


# The body is read by hand (a valid batch in one pass, else item by item), so it is declared here.
_activity_batch_body = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "title": "ActivityBatch",
                    "type": "object",
                    "required": ["events"],
                    "properties": {
                        "events": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_BATCH,
                            "items": {"$ref": "#/components/schemas/ActivityCreate"},
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/events",
    response_model=ActivityBatchResult,
    tags=["activity"],
    summary="Record a batch of up to 1,000 activities; each item is accepted or rejected on its own",
    openapi_extra=_activity_batch_body,
)
async def record_events(
    request: Request, session: SessionDep, guard: ProtectionDep, source_id: SourceDep
) -> Response:
    body = await read_body(request, guard.max_body_bytes)
    items: list[ActivityCreate] | list[dict[str, Any]]
    try:
        items = ValidActivityBatch.model_validate_json(body).events
    except ValidationError:
        # Some item (or the body) is invalid: each item is then validated, and answered, alone.
        try:
            items = ActivityBatch.model_validate(parse_json_object(body)).events
        except ValidationError as exc:
            raise field_errors(exc, "body") from exc
    result = await activities.record_activities(session, source_id=source_id, items=items)
    # The answer of a 1,000-item batch, serialized once here: FastAPI would validate the result
    # again and encode it with `json`, a tenth of a batch's CPU (the same bytes as the services'
    # `NewlineJSONResponse`).
    return Response(result.model_dump_json().encode() + b"\n", media_type="application/json")


@router.post("/sources", status_code=status.HTTP_201_CREATED, tags=["sources"], summary="Register a source")
async def create_source(source: SourceCreate, session: SessionDep, principal: Admin) -> SourceCreated:
    return await service.create_source(session, source=source, actor=principal.subject)


@router.get("/sources", tags=["sources"], summary="Every source (keys are never shown again)")
async def list_sources(session: SessionDep, _: Admin) -> list[SourceRead]:
    return list(await service.list_sources(session))


@router.delete("/sources/{source_id}", tags=["sources"], summary="Revoke a source's API key")
async def revoke_source(
    source_id: str, session: SessionDep, guard: ProtectionDep, principal: Admin
) -> SourceRead:
    return await service.revoke_source(session, source_id=source_id, actor=principal.subject, keys=guard.keys)


@router.delete(
    "/leads/{lead_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["leads"],
    summary="Erase a lead's personal data everywhere (emits lead.erased)",
)
async def erase_lead(lead_id: uuid.UUID, session: SessionDep, principal: Admin) -> Response:
    await service.erase_lead(session, lead_id=lead_id, reason="request", actor=principal.subject)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/leads/erasure",
    tags=["leads"],
    summary="Erase the lead of an email address everywhere (emits lead.erased)",
)
async def erase_by_email(request: ErasureRequest, session: SessionDep, principal: Admin) -> ErasureDone:
    lead_id = await service.erase_by_email(session, email=request.email, actor=principal.subject)
    return ErasureDone(lead_id=lead_id)


@router.post(
    "/accounts", status_code=status.HTTP_201_CREATED, tags=["accounts"], summary="Create or update an account"
)
async def save_account(account: AccountCreate, session: SessionDep, principal: AccountManager) -> AccountRead:
    return await service.save_account(session, account=account, actor=principal.subject)


@router.get("/accounts", tags=["accounts"], summary="Every account")
async def list_accounts(session: SessionDep, _: AccountManager) -> list[AccountRead]:
    return await service.list_accounts(session)
