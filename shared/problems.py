"""RFC 9457 problem details: every error a Baton API returns has this one shape."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.responses import NewlineJSONResponse
from shared.sealing import KeyRingNotLoaded

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://baton.dev/problems/"
# PostgreSQL stores no NUL character, in text or in jsonb (character_not_in_repertoire,
# untranslatable_character): input carrying one is refused as a whole, never half-saved.
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})


class Problem(Exception):
    """A domain error that knows its HTTP status; subclasses name the condition."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    slug: ClassVar[str] = "bad-request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(Problem):
    status = 404
    title = "Not found"
    slug = "not-found"


class Conflict(Problem):
    status = 409
    title = "Conflict"
    slug = "conflict"


class Unprocessable(Problem):
    status = 422
    title = "Unprocessable content"
    slug = "unprocessable"


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ProblemDetails(BaseModel):
    """The body of every error response (RFC 9457); problems may add members of their own."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    instance: str
    detail: str | None = None
    errors: list[FieldError] | None = None


def problem_response(
    request: Request, *, status: int, title: str, slug: str, detail: str | None, **extensions: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    body.update(extensions)
    return NewlineJSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            request, status=exc.status, title=exc.title, slug=exc.slug, detail=exc.detail, **exc.extensions
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem_response(
            request,
            status=422,
            title="Validation failed",
            slug="validation-failed",
            detail=f"{len(errors)} field(s) failed validation",
            errors=errors,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        response = problem_response(
            request,
            status=exc.status_code,
            title=_title_for(exc.status_code),
            slug=f"http-{exc.status_code}",
            detail=str(exc.detail) if exc.detail else None,
        )
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("http.unhandled_error", exc_info=exc, extra={"path": request.url.path})
        return problem_response(
            request, status=500, title="Internal error", slug="internal", detail="unexpected error; see logs"
        )

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DBAPIError)
        if _sqlstate(exc) in _UNSTORABLE_TEXT:
            return problem_response(
                request,
                status=422,
                title="Unprocessable content",
                slug="unstorable-text",
                detail="a text value contains a character that cannot be stored (NUL, \\u0000); nothing was saved",
            )
        return await on_unexpected(request, exc)

    async def on_keys_loading(request: Request, exc: Exception) -> JSONResponse:
        # Right after a start, before the lead keys are read: try again shortly, nothing was kept.
        response = problem_response(
            request,
            status=503,
            title="Service unavailable",
            slug="lead-keys-loading",
            detail="the service is still reading the leads' sealing keys; nothing was saved",
        )
        response.headers["Retry-After"] = "1"
        return response

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(KeyRingNotLoaded, on_keys_loading)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
    _document_problems(app)


def _document_problems(app: FastAPI) -> None:
    """Document error responses as the problem details they are, not FastAPI's default
    `HTTPValidationError` JSON, so clients and schema checks see what is really sent."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            components = document.setdefault("components", {}).setdefault("schemas", {})
            schema = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(schema.pop("$defs", {}))
            components["ProblemDetails"] = schema
            problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        if status[:1] in {"4", "5"}:
                            response["content"] = problem
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _title_for(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, wherever the driver's wrapping put it."""
    seen: BaseException | None = exc
    for _ in range(4):  # SQLAlchemy's error, the dialect's adapted one, the driver's
        if seen is None:
            return None
        code = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if isinstance(code, str):
            return code
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None
