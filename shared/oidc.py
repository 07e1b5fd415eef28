"""What production authentication needs from an OIDC provider: its signing keys and its claims.

`JwksKeySet` finds the provider's keys (from `BATON_OIDC_JWKS_URL`, or the issuer's discovery
document) and keeps them; a token signed with a key it has not seen makes it fetch the set
again, so a provider's key rotation needs no restart. Fetches triggered by unknown keys are
rate-limited: a flood of tokens with made-up `kid`s costs the provider one request per interval.

`ClaimMapping` says where a provider puts the role, the rep id and the email: identity providers
do not send Baton's `baton_role`/`rep_id` claims unless told to, but they do send groups or app
roles, which the mapping translates (README, "Authentication", for Keycloak, Okta, Entra ID and
Google).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

# Asymmetric algorithms only: a verifier that also accepted HS* could be fed a token signed
# with the provider's *public* key as an HMAC secret (the key-confusion attack), and `none`
# would accept unsigned tokens.
ALGORITHMS_BY_KEY_TYPE: Mapping[str, frozenset[str]] = {
    "RSA": frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
    "EC": frozenset({"ES256", "ES384", "ES512"}),
    "OKP": frozenset({"EdDSA"}),
}
ACCEPTED_ALGORITHMS = frozenset().union(*ALGORITHMS_BY_KEY_TYPE.values())
_CURVE_ALGORITHM = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


class SigningKeyUnavailable(Exception):
    """The token names a key the provider does not (or no longer) publish, or the keys are unreachable."""


@dataclass
class JwksKeySet:
    """The provider's published signing keys, by `kid`, refreshed on rotation and on age."""

    issuer: str
    jwks_url: str | None = None
    min_refresh_interval_s: float = 30.0
    max_age_s: float = 600.0
    timeout_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _keys: dict[str | None, jwt.PyJWK] = field(default_factory=dict, init=False)
    _fetched_at: float | None = field(default=None, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    fetches: int = field(default=0, init=False)

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        if self._stale():
            await self._refresh(reason_stale=True)
        key = self._lookup(kid)
        if key is None and self._may_refresh_for_unknown_key():
            await self._refresh(reason_stale=False)
            key = self._lookup(kid)
        if key is None:
            raise SigningKeyUnavailable(f"the provider publishes no signing key with kid {kid!r}")
        return key

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            # A provider with one key may leave `kid` out of its tokens (RFC 7515 makes it optional).
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self.clock() - self._fetched_at >= self.max_age_s

    def _may_refresh_for_unknown_key(self) -> bool:
        return self._fetched_at is None or self.clock() - self._fetched_at >= self.min_refresh_interval_s

    async def _refresh(self, *, reason_stale: bool) -> None:
        async with self._lock:
            # Another request may have refreshed while this one waited for the lock.
            if self._fetched_at is not None:
                since = self.clock() - self._fetched_at
                if since < (self.max_age_s if reason_stale else self.min_refresh_interval_s):
                    return
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError) as exc:
                if not self._keys:
                    raise SigningKeyUnavailable(f"cannot fetch the provider's signing keys: {exc}") from exc
                # Keep verifying with the keys we have; try again after the interval, not per request.
                self._fetched_at = self.clock() - self.max_age_s + self.min_refresh_interval_s
                return
            self._keys, self._fetched_at = keys, self.clock()

    async def _fetch(self) -> dict[str | None, jwt.PyJWK]:
        self.fetches += 1
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
            url = self.jwks_url or await self._discover_jwks_url(client)
            response = await client.get(url)
            response.raise_for_status()
            document = response.json()
        keys: dict[str | None, jwt.PyJWK] = {}
        for jwk in document.get("keys", []):
            if jwk.get("use", "sig") != "sig" or jwk.get("kty") not in ALGORITHMS_BY_KEY_TYPE:
                continue  # encryption keys and key types we do not verify with
            try:
                keys[jwk.get("kid")] = jwt.PyJWK(jwk, algorithm=_default_algorithm(jwk))
            except jwt.PyJWTError:
                continue  # one malformed or unsupported key must not hide the others
        return keys

    async def _discover_jwks_url(self, client: httpx.AsyncClient) -> str:
        response = await client.get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        response.raise_for_status()
        configuration = response.json()
        # OpenID Connect Discovery 1.0 §4.3: the document must name the issuer it was fetched for.
        if configuration.get("issuer") != self.issuer:
            raise ValueError(f"the discovery document names issuer {configuration.get('issuer')!r}")
        jwks_uri = configuration.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise ValueError("the discovery document has no jwks_uri")
        return jwks_uri


def _default_algorithm(jwk: Mapping[str, Any]) -> str | None:
    if "alg" in jwk:
        return str(jwk["alg"])
    if jwk["kty"] == "RSA":
        return "RS256"
    if jwk["kty"] == "EC":
        return _CURVE_ALGORITHM.get(str(jwk.get("crv")))
    return "EdDSA"


def algorithm_fits_key(algorithm: str, key: jwt.PyJWK) -> bool:
    """The token's `alg` is one this key may verify: its type's, and the JWK's own `alg` if it names one."""
    if algorithm not in ALGORITHMS_BY_KEY_TYPE.get(str(key.key_type), frozenset()):
        return False
    declared = key._jwk_data.get("alg")
    return declared is None or declared == algorithm


@dataclass(frozen=True)
class ClaimMapping:
    """Where the provider's tokens carry what Baton needs.

    `role_claim` is a claim name or a dotted path into nested claims (`realm_access.roles`);
    its value may be a string, a space-separated scope string (`scp`) or a list (`groups`).
    `role_map` translates the provider's values (group names, app roles) into Baton role names;
    values it does not name are used as they are, so a provider may also send `manager` itself.
    """

    role_claim: str = "baton_role"
    role_map: Mapping[str, str] = field(default_factory=dict)
    rep_id_claim: str = "rep_id"
    email_claim: str = "email"
    source_id_claim: str = "source_id"

    def roles(self, claims: Mapping[str, Any]) -> list[str]:
        value = claim_at(claims, self.role_claim)
        if isinstance(value, str):
            values: Iterable[Any] = value.split()
        elif isinstance(value, list):
            values = value
        else:
            values = []
        return [self.role_map.get(str(v), str(v)) for v in values]

    def rep_id(self, claims: Mapping[str, Any]) -> str | None:
        value = claim_at(claims, self.rep_id_claim)
        return None if value is None else str(value)

    def source_id(self, claims: Mapping[str, Any]) -> str | None:
        value = claim_at(claims, self.source_id_claim)
        return None if value is None else str(value)

    def email(self, claims: Mapping[str, Any]) -> str | None:
        """The caller's email, unless the provider says it is unverified (Google, Keycloak do)."""
        value = claim_at(claims, self.email_claim)
        if not isinstance(value, str) or "@" not in value or claims.get("email_verified") is False:
            return None
        return value.strip().lower()


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The claim named `path`, or the one it reaches through nested objects split at dots.

    A literal name wins, because some providers name claims with URLs, which contain dots."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value
