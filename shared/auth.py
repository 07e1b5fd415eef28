"""One authentication mechanism for every service: bearer JWTs carrying a role and ids.

Development signs tokens with a shared HS256 secret (`baton up` issues them); production
verifies tokens from an OIDC provider against its JWKS, mapping the provider's claims
(`shared/oidc.py`). Either way a request ends up with a
`Principal`, and routes declare the roles they accept with `require_roles`.
"""

from __future__ import annotations

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
from shared.oidc import (
    ACCEPTED_ALGORITHMS,
    ClaimMapping,
    JwksKeySet,
    SigningKeyUnavailable,
    algorithm_fits_key,
)
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
    # The verified email, by which a rep without a `rep_id` claim is matched to their rep record.
    email: str | None = None


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


# When a token maps to several roles (a user in both `sales-managers` and `sales-reps`), the
# most privileged one wins: a manager who is also listed as a rep acts as a manager.
ROLE_PRECEDENCE = (Role.ADMIN, Role.MANAGER, Role.SALES, Role.MARKETING, Role.REP, Role.SOURCE)
DEV_CLAIMS = ClaimMapping()


class TokenVerifier:
    """Turns a bearer token into a `Principal`: HS256 with the shared secret in development,
    the provider's published asymmetric keys in `oidc` mode."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.audience = settings.oidc_audience
        self.leeway_s = settings.oidc_leeway_s if settings.auth_mode == "oidc" else 0
        self._secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self._issuer = DEV_ISSUER if settings.auth_mode == "hs256" else settings.oidc_issuer
        self.keys = (
            JwksKeySet(
                issuer=settings.oidc_issuer,
                jwks_url=settings.oidc_jwks_url,
                min_refresh_interval_s=settings.oidc_jwks_min_refresh_interval_s,
            )
            if settings.auth_mode == "oidc" and settings.oidc_issuer
            else None
        )
        self.claims = (
            ClaimMapping(
                role_claim=settings.oidc_role_claim,
                role_map=settings.oidc_role_map,
                rep_id_claim=settings.oidc_rep_id_claim,
                email_claim=settings.oidc_email_claim,
            )
            if self.keys is not None
            else DEV_CLAIMS
        )

    async def verify(self, token: str) -> Principal:
        try:
            key, algorithms = await self._key_for(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self._issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "sub"]},
            )
        except (jwt.PyJWTError, SigningKeyUnavailable) as exc:
            raise Unauthenticated(f"invalid bearer token: {exc}") from exc
        return self._principal(claims)

    async def _key_for(self, token: str) -> tuple[Any, list[str]]:
        if self.keys is None:
            return self._secret, ["HS256"]
        header = jwt.get_unverified_header(token)
        algorithm = str(header.get("alg"))
        if algorithm not in ACCEPTED_ALGORITHMS:
            raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} is not accepted")
        kid = header.get("kid")
        jwk = await self.keys.key_for(None if kid is None else str(kid))
        if not algorithm_fits_key(algorithm, jwk):
            raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} does not fit key {kid!r}")
        # Only the algorithm the key is for: the token cannot choose a weaker reading of the key.
        return jwk.key, [algorithm]

    def _principal(self, claims: dict[str, Any]) -> Principal:
        names = self.claims.roles(claims) or (
            [str(claims["role"])] if self.keys is None and "role" in claims else []
        )
        roles = {Role(name) for name in names if name in Role.__members__.values()}
        role = next((r for r in ROLE_PRECEDENCE if r in roles), None)
        if role is None:
            raise Forbidden(f"token carries no valid Baton role in {self.claims.role_claim!r}: {names}")
        try:
            return Principal(
                subject=str(claims["sub"]),
                role=role,
                rep_id=self.claims.rep_id(claims),
                source_id=self.claims.source_id(claims),
                email=self.claims.email(claims),
            )
        except ValueError as exc:
            raise Forbidden(f"token carries an invalid id: {exc}") from exc


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
