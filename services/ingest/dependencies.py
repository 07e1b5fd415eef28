"""Request-level dependencies: body limits, rate limits, and who is posting activity."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest import service
from services.ingest.cache import FormCache, SourceKey, SourceKeyCache
from services.ingest.errors import BodyTooLarge, RateLimited
from services.ingest.protection import RATE_LIMITED, ClientNetworks, TokenBucket, retry_after_header
from services.ingest.settings import IngestSettings
from shared.auth import Forbidden, Role, Unauthenticated, require_roles
from shared.db import Database
from shared.runtime import SessionDep


class Protection:
    """The app's in-process limiters and form cache, built once in the app factory."""

    def __init__(self, settings: IngestSettings) -> None:
        self.max_body_bytes = settings.max_body_bytes
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


async def limit_client(request: Request, guard: ProtectionDep) -> None:
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


async def form_key(
    request: Request,
    guard: ProtectionDep,
    form_id: Annotated[str, Path()],
    x_api_key: Annotated[str | None, Header(max_length=200)] = None,
) -> SourceKey | None:
    """A server posting a form on its users' behalf authenticates with an API key scoped to the
    form (no key: a browser post, limited per address and checked against the form's origins)."""
    if x_api_key is None:
        return None
    db: Database = request.app.state.db
    # A short transaction of its own: the request then waits for the writer holding no connection.
    async with db.transaction() as session:
        key = await _live_key(session, guard, x_api_key)
    if not key.may_submit(form_id):
        raise Forbidden(f"this API key may not submit form {form_id!r}")
    _limit_source(guard, key.source_id, key.rate_limit_per_minute)
    return key


FormKeyDep = Annotated[SourceKey | None, Depends(form_key)]


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
