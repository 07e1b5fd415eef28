"""One authentication mechanism for every service: bearer JWTs carrying a role and ids.

Development signs tokens with a shared HS256 secret (`baton up` issues them); production
verifies tokens from an OIDC provider against its JWKS. Either way a request ends up with a
`Principal`, and routes declare the roles they accept with `require_roles`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from shared.contracts import utc_now
from shared.problems import Problem
from shared.settings import ServiceSettings

DEV_ISSUER = "baton-dev"
ROLE_CLAIM = "baton_role"


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    REP = "rep"
    MARKETING = "marketing"
    SALES = "sales"
    SOURCE = "source"


class Principal(BaseModel):
    subject: str
    role: Role
    rep_id: uuid.UUID | None = None
    source_id: str | None = None


class Unauthenticated(Problem):
    status = 401
    title = "Unauthenticated"
    slug = "unauthenticated"


class Forbidden(Problem):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


def issue_token(
    secret: str,
    *,
    role: Role,
    subject: str,
    rep_id: uuid.UUID | None = None,
    source_id: str | None = None,
    ttl: timedelta = timedelta(days=30),
    audience: str = "baton",
) -> str:
    """A development token signed with the shared secret."""
    now = utc_now()
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": audience,
        "sub": subject,
        ROLE_CLAIM: role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if rep_id:
        claims["rep_id"] = str(rep_id)
    if source_id:
        claims["source_id"] = source_id
    return jwt.encode(claims, secret, algorithm="HS256")


class TokenVerifier:
    def __init__(self, settings: ServiceSettings) -> None:
        self.audience = settings.oidc_audience
        self._secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self._issuer = DEV_ISSUER if settings.auth_mode == "hs256" else settings.oidc_issuer
        self._jwks = (
            jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True, lifespan=600)
            if settings.auth_mode == "oidc" and settings.oidc_jwks_url
            else None
        )

    async def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                # PyJWKClient fetches over blocking HTTP (cached afterwards): keep it off the loop.
                key: Any = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
                algorithms = ["RS256", "ES256", "PS256"]
            else:
                key, algorithms = self._secret, ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self._issuer,
                options={"require": ["exp", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid bearer token: {exc}") from exc
        try:
            return Principal(
                subject=str(claims["sub"]),
                role=Role(str(claims.get(ROLE_CLAIM) or claims.get("role"))),
                rep_id=claims.get("rep_id"),
                source_id=claims.get("source_id"),
            )
        except ValueError as exc:
            raise Forbidden(f"token carries no valid Baton role: {exc}") from exc


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated("missing bearer token", headers_hint="Authorization: Bearer <token>")
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(credentials.credentials)


class RoleCheck:
    """A dependency admitting the given roles. It keeps them, so `/v1/me` can list what a role
    may do from the routes themselves rather than from a copy that drifts."""

    def __init__(self, roles: frozenset[Role]) -> None:
        self.roles = roles

    async def __call__(self, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in self.roles:
            raise Forbidden(
                f"role {principal.role.value!r} may not do this; allowed: "
                + ", ".join(sorted(r.value for r in self.roles))
            )
        return principal


def require_roles(*roles: Role, admit_admin: bool = True) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting the given roles (admin too, unless `admit_admin=False`)."""
    return RoleCheck(frozenset(roles) | ({Role.ADMIN} if admit_admin else set()))
