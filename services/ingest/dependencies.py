"""Request-level dependencies: body limits, rate limits, and who is posting activity."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest import service
from services.ingest.cache import FormCache, SourceKey, SourceKeyCache
from services.ingest.errors import BodyTooLarge, RateLimited
from services.ingest.protection import RATE_LIMITED, ClientNetworks, TokenBucket, retry_after_header
from services.ingest.schemas import ID_PATTERN
from services.ingest.settings import IngestSettings
from services.ingest.shared_rate_limit import SharedWindowLimit
from services.ingest.worker import SubmissionWriter
from shared.auth import Forbidden, Role, Unauthenticated, require_roles
from shared.db import Database
from shared.runtime import SessionDep


class Protection:
    """The app's limiters and form cache, built once in the app factory. The per-client form limit
    is in-process or shared through PostgreSQL (`form_rate_limit_store`); either way a check
    makes no round trip."""

    def __init__(self, settings: IngestSettings) -> None:
        self.max_body_bytes = settings.max_body_bytes
        # Both answer `take(key)` with the seconds to wait (0: allowed) from memory alone.
        self.per_client: TokenBucket | SharedWindowLimit
        if settings.form_rate_limit_store == "postgres":
            self.per_client = SharedWindowLimit(
                per_minute=settings.form_rate_limit_per_minute,
                burst=settings.form_rate_limit_burst,
                window_s=settings.form_rate_limit_window_s,
            )
        else:
            self.per_client = TokenBucket(
                per_minute=settings.form_rate_limit_per_minute, burst=settings.form_rate_limit_burst
            )
        self.per_source = TokenBucket(
            per_minute=settings.source_rate_limit_per_minute, burst=settings.source_rate_limit_burst
        )
        self.exempt = ClientNetworks(settings.rate_limit_exempt_networks)
        self.forms = FormCache(ttl_s=settings.form_cache_ttl_s)
        self.keys = SourceKeyCache(ttl_s=settings.api_key_cache_ttl_s)


async def protection(request: Request) -> Protection:
    # async: FastAPI runs a plain `def` dependency on a worker thread, a hand-off per request.
    found: Protection = request.app.state.protection
    return found


ProtectionDep = Annotated[Protection, Depends(protection)]


def intake(request: Request) -> SubmissionWriter:
    """The process's submission writer: every intake path stores through it."""
    writer = request.app.state.runtime.workers[SubmissionWriter.name]
    assert isinstance(writer, SubmissionWriter)
    return writer


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 beyond `limit` (declared or actual length)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    # Starlette's form parser reads the cached body from here.
    request._body = body
    return body


def limit_client(request: Request, guard: Protection) -> None:
    """Per client address: a browser posting forms faster than a human can is refused. A request
    with an API key is limited per key instead (`form_key`)."""
    host = request.client.host if request.client else "unknown"
    if host in guard.exempt or "x-api-key" in request.headers:
        return
    wait = guard.per_client.take(host)
    if wait > 0:
        RATE_LIMITED.labels("client").inc()
        raise RateLimited("too many form posts from this address", retry_after=retry_after_header(wait))


_bearer = HTTPBearer(auto_error=False)
_source_roles = require_roles(Role.SOURCE)


async def posting_source(
    request: Request,
    session: SessionDep,
    guard: ProtectionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_api_key: Annotated[str | None, Header(max_length=200)] = None,
) -> str:
    """The source posting activity: by its `X-Api-Key`, or a bearer token of role `source`
    (its `source_id` claim) or `admin`. Rate limited per source."""
    per_minute = None
    if x_api_key is not None:
        key = await _live_key(session, guard, x_api_key)
        if not key.posts_activity:
            raise Forbidden("this API key is scoped to forms; it may not post activity")
        source_id, per_minute = key.source_id, key.rate_limit_per_minute
    elif credentials is not None:
        principal = await _source_roles(
            await request.app.state.token_verifier.verify(credentials.credentials)
        )
        source_id = principal.source_id or principal.subject
    else:
        raise Unauthenticated("send X-Api-Key or a bearer token of role source")
    _limit_source(guard, source_id, per_minute)
    return source_id


SourceDep = Annotated[str, Depends(posting_source)]


async def form_key(request: Request, guard: Protection, form_id: str, x_api_key: str) -> SourceKey:
    """A server posting a form on its users' behalf authenticates with an API key scoped to the
    form (no key: a browser post, limited per address and checked against the form's origins)."""
    db: Database = request.app.state.db
    # A short transaction of its own: the request then waits for the writer holding no connection.
    async with db.transaction() as session:
        key = await _live_key(session, guard, x_api_key)
    if not key.may_submit(form_id):
        raise Forbidden(f"this API key may not submit form {form_id!r}")
    _limit_source(guard, key.source_id, key.rate_limit_per_minute)
    return key


async def _live_key(session: AsyncSession, guard: Protection, api_key: str) -> SourceKey:
    key = await service.source_for_key(session, api_key=api_key, keys=guard.keys)
    if key is None:
        raise Unauthenticated("unknown or revoked API key")
    return key


def _limit_source(guard: Protection, source_id: str, per_minute: float | None) -> None:
    wait = guard.per_source.take(source_id, per_minute=per_minute)
    if wait > 0:
        RATE_LIMITED.labels("source").inc()
        raise RateLimited(
            f"too many requests from source {source_id!r}", retry_after=retry_after_header(wait)
        )


@dataclass(frozen=True)
class FormPost:
    """What a form post says besides its body: the form, its idempotency key, and the API key of a
    server posting on its users' behalf (None for a browser)."""

    protection: Protection
    form_id: str
    idempotency_key: str | None
    key: SourceKey | None


_FORM_ID = TypeAdapter(Annotated[str, Field(min_length=1, max_length=200, pattern=ID_PATTERN)])
# fullmatch, not ID_PATTERN's `$`: in Python that also matches before a final newline.
_FORM_ID_SHAPE = re.compile(ID_PATTERN.removeprefix("^").removesuffix("$"))
_IDEMPOTENCY_KEY = TypeAdapter(Annotated[str, Field(max_length=255)])
_API_KEY = TypeAdapter(Annotated[str, Field(max_length=200)])
# The route's parameters as the API documents them (the route reads them itself, see `form_post`).
FORM_POST_PARAMETERS: list[dict[str, Any]] = [
    {"in": "path", "name": "form_id", "required": True, "schema": {"title": "Form Id", "type": "string"}},
    *(
        {
            "in": "header",
            "name": name.lower(),
            "required": False,
            "schema": {"anyOf": [{"maxLength": length, "type": "string"}, {"type": "null"}], "title": name},
        }
        for name, length in (("Idempotency-Key", 255), ("X-Api-Key", 200))
    ),
]


async def form_post(request: Request) -> FormPost:
    """`limit_client`, then the path and headers checked as FastAPI would check declared parameters
    (the same field errors), then `form_key`. Done by hand: FastAPI's resolution of declared
    dependencies and parameters cost a form post more CPU than everything else it does."""
    guard: Protection = request.app.state.protection
    limit_client(request, guard)
    form_id: str = request.path_params["form_id"]
    headers = request.headers
    idempotency_key = headers.get("idempotency-key")
    api_key = headers.get("x-api-key")
    # In FastAPI's order: the key's own dependency first (its parameter checked, then called),
    # then the route's parameters, every field error reported at once.
    errors: list[dict[str, Any]] = []
    key = None
    if api_key is not None and len(api_key) > 200:
        errors += _param_errors(_API_KEY, api_key, "header", "x-api-key")
    elif api_key is not None:
        key = await form_key(request, guard, form_id, api_key)
    if len(form_id) > 200 or _FORM_ID_SHAPE.fullmatch(form_id) is None:
        errors += _param_errors(_FORM_ID, form_id, "path", "form_id")
    if idempotency_key is not None and len(idempotency_key) > 255:
        errors += _param_errors(_IDEMPOTENCY_KEY, idempotency_key, "header", "idempotency-key")
    if errors:
        raise RequestValidationError(errors)
    return FormPost(guard, form_id, idempotency_key, key)


def _param_errors(adapter: TypeAdapter[str], value: str, *loc: str) -> list[dict[str, Any]]:
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        return [{**e, "loc": (*loc, *e["loc"])} for e in exc.errors(include_url=False)]
    return []
