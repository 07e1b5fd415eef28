"""`POST /v1/imports`: existing leads in, as CSV with a column map (`baton import` sends a file
here in parts, showing progress)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError

from services.ingest import imports
from services.ingest.dependencies import ProtectionDep, intake, read_body
from services.ingest.errors import UnsupportedMediaType
from services.ingest.schemas import CANONICAL_FIELDS, ImportResult
from shared.auth import Principal, Role, require_roles

router = APIRouter(prefix="/v1/imports", tags=["imports"])
Importer = Annotated[Principal, Depends(require_roles(Role.MARKETING))]
CSV_TYPES = ("text/csv", "application/csv", "text/plain")


def column_map(pairs: list[str]) -> dict[str, str]:
    """`Column=field` pairs, each field one of Baton's (or `utm_<key>`)."""
    mapping: dict[str, str] = {}
    errors = []
    for index, pair in enumerate(pairs):
        column, sep, target = pair.rpartition("=")
        if not sep or not column or not (target in CANONICAL_FIELDS or target.startswith("utm_")):
            errors.append(
                {
                    "loc": ("query", "map", index),
                    "msg": f"{pair!r} is not Column=field with a field among {', '.join(CANONICAL_FIELDS)}",
                    "type": "value_error",
                }
            )
        mapping[column] = target
    if errors:
        raise RequestValidationError(errors)
    return mapping


@router.post(
    "",
    summary="Import leads from CSV: per-row results; re-running a file creates nothing new",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def import_leads(
    request: Request,
    guard: ProtectionDep,
    _: Importer,
    map_: Annotated[
        list[str],
        Query(alias="map", description="Column=field, once per mapped column; others become attributes."),
    ] = [],  # noqa: B006 - FastAPI copies query defaults
    mode: Annotated[
        imports.ImportMode,
        Query(
            description="live: announce each new lead (scored, routed); history: record, announce nothing."
        ),
    ] = "live",
    id_column: Annotated[
        str | None, Query(max_length=200, description="A column that names each row across runs.")
    ] = None,
    first_row: Annotated[int, Query(ge=1, description="The number of the body's first row in the file.")] = 1,
    list_name: Annotated[str | None, Query(max_length=200, description="Kept as the leads' form id.")] = None,
) -> ImportResult:
    content_type = request.headers.get("content-type", "text/csv").split(";")[0].strip().lower()
    if content_type not in CSV_TYPES:
        raise UnsupportedMediaType(f"{content_type!r} is not accepted; send text/csv")
    body = await read_body(request, guard.max_body_bytes)
    return await imports.import_leads(
        intake(request),
        csv_text=body.decode("utf-8-sig", "replace"),
        column_map=column_map(map_),
        mode=mode,
        id_column=id_column,
        first_row=first_row,
        list_name=list_name,
    )
