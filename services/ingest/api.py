"""Ingest's HTTP routes: parse transport input, call one use case, map the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.ingest import service
from services.ingest.errors import UnsupportedMediaType
from services.ingest.schemas import FormSubmissionCreate, SubmissionAccepted
from shared.runtime import SessionDep

router = APIRouter(prefix="/v1", tags=["forms"])

FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_schema_ref = {"$ref": "#/components/schemas/FormSubmissionCreate"}


async def _submitted_fields(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type in FORM_MEDIA_TYPES:
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            body = await request.json()
        except ValueError as exc:
            raise RequestValidationError(
                [{"loc": ("body",), "msg": f"invalid JSON: {exc}", "type": "json_invalid"}]
            ) from exc
        if not isinstance(body, dict):
            raise RequestValidationError(
                [{"loc": ("body",), "msg": "expected a JSON object", "type": "dict_type"}]
            )
        return body
    raise UnsupportedMediaType(f"{content_type!r} is not accepted; send application/json or a form encoding")


@router.post(
    "/forms/{form_id}/submissions",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a form fill (JSON or form-encoded, as a browser posts it)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _schema_ref},
                "application/x-www-form-urlencoded": {"schema": _schema_ref},
            },
        }
    },
)
async def submit_form(
    request: Request,
    session: SessionDep,
    form_id: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")],
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> SubmissionAccepted:
    fields = await _submitted_fields(request)
    try:
        submission = FormSubmissionCreate.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc
    return await service.submit_form(
        session, form_id=form_id, submission=submission, idempotency_key=idempotency_key
    )
