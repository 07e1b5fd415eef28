"""`BATON_AUTH_MODE=oidc` against a local issuer: real keys over real HTTP, real signed tokens."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.auth import Forbidden, Role, TokenVerifier, Unauthenticated
from shared.settings import ServiceSettings
from tests.oidc_issuer import LocalIssuer, local_issuer

LEEWAY_S = 60


class FakeClock:
    """The key set's monotonic clock, moved by hand so rate limits are tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings(issuer: LocalIssuer, **overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "BATON_DATABASE_URL": "postgresql+asyncpg://unused/unused",
        "BATON_KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
        "auth_mode": "oidc",
        "oidc_issuer": issuer.issuer,
        "oidc_leeway_s": LEEWAY_S,
        "oidc_role_claim": "realm_access.roles",
        "oidc_role_map": {"baton-managers": "manager", "baton-reps": "rep"},
        **overrides,
    }
    return ServiceSettings.model_validate(values)


@pytest.fixture
async def issuer() -> AsyncIterator[LocalIssuer]:
    async with local_issuer() as running:
        yield running


def verifier_for(issuer: LocalIssuer, **overrides: Any) -> tuple[TokenVerifier, FakeClock]:
    verifier = TokenVerifier(settings(issuer, **overrides))
    clock = FakeClock()
    assert verifier.keys is not None
    verifier.keys.clock = clock
    return verifier, clock


MANAGER: dict[str, Any] = {"realm_access": {"roles": ["offline_access", "baton-managers"]}}


async def test_rsa_and_ec_tokens_verify_through_discovery(issuer: LocalIssuer) -> None:
    verifier, _ = verifier_for(issuer)  # no JWKS URL: found in the discovery document
    rsa_principal = await verifier.verify(issuer.token("rsa-1", **MANAGER))
    ec_principal = await verifier.verify(issuer.token("ec-1", **MANAGER))
    assert rsa_principal.role == ec_principal.role == Role.MANAGER
    assert issuer.jwks_requests == 1  # cached between tokens


async def test_a_rotated_key_is_picked_up_without_a_restart(issuer: LocalIssuer) -> None:
    verifier, clock = verifier_for(issuer)
    await verifier.verify(issuer.token("rsa-1", **MANAGER))
    issuer.add_rsa("rsa-2")
    issuer.publish("rsa-2", "ec-1")  # the provider rotates: rsa-1 retired, rsa-2 signs
    clock.now += 31
    principal = await verifier.verify(issuer.token("rsa-2", **MANAGER))
    assert principal.role == Role.MANAGER
    assert issuer.jwks_requests == 2
    with pytest.raises(Unauthenticated, match="no signing key with kid 'rsa-1'"):
        await verifier.verify(issuer.token("rsa-1", **MANAGER))


async def test_an_unknown_kid_is_refreshed_once_then_refused_without_a_refresh_storm(
    issuer: LocalIssuer,
) -> None:
    verifier, clock = verifier_for(issuer)
    await verifier.verify(issuer.token("rsa-1", **MANAGER))
    issuer.add_rsa("forged")  # a key the issuer never publishes
    clock.now += 31
    forged = [issuer.token("forged", **MANAGER) for _ in range(50)]
    results = await asyncio.gather(*(verifier.verify(t) for t in forged), return_exceptions=True)
    assert all(isinstance(r, Unauthenticated) for r in results)
    assert issuer.jwks_requests == 2  # one refresh for fifty tokens naming the unknown key
    clock.now += 5  # within the refresh interval: refused from the cache
    with pytest.raises(Unauthenticated):
        await verifier.verify(issuer.token("forged", **MANAGER))
    assert issuer.jwks_requests == 2
    assert (await verifier.verify(issuer.token("ec-1", **MANAGER))).role == Role.MANAGER


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iss": "https://evil.example/realms/baton"}, "Invalid issuer"),
        ({"aud": "another-api"}, "Audience doesn't match"),
        ({"exp": "-{leeway_plus}"}, "Signature has expired"),
        ({"nbf": "+{leeway_plus}"}, "The token is not yet valid"),
        ({"exp": None}, 'Token is missing the "exp" claim'),
    ],
)
async def test_claims_that_refuse_a_token(issuer: LocalIssuer, claims: dict[str, Any], message: str) -> None:
    verifier, _ = verifier_for(issuer)
    now = issuer.claims()["iat"]
    resolved = {
        k: (
            now - LEEWAY_S - 5
            if v == "-{leeway_plus}"
            else now + LEEWAY_S + 5
            if v == "+{leeway_plus}"
            else v
        )
        for k, v in claims.items()
    }
    with pytest.raises(Unauthenticated, match=message):
        await verifier.verify(issuer.token("rsa-1", **MANAGER, **resolved))


async def test_clock_skew_within_the_leeway_is_tolerated(issuer: LocalIssuer) -> None:
    verifier, _ = verifier_for(issuer)
    now = issuer.claims()["iat"]
    # The provider's clock runs 50 s ahead (token not yet valid for us) or behind (just expired).
    ahead = issuer.token("rsa-1", iat=now + 50, nbf=now + 50, **MANAGER)
    behind = issuer.token("ec-1", iat=now - 400, exp=now - 50, **MANAGER)
    assert (await verifier.verify(ahead)).role == Role.MANAGER
    assert (await verifier.verify(behind)).role == Role.MANAGER


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned_parts(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())


async def test_alg_none_is_refused(issuer: LocalIssuer) -> None:
    verifier, _ = verifier_for(issuer)
    token = _unsigned_parts({"alg": "none", "kid": "rsa-1"}, issuer.claims(**MANAGER)) + "."
    with pytest.raises(Unauthenticated, match="'none' is not accepted"):
        await verifier.verify(token)
    assert issuer.jwks_requests == 0  # refused before any key was looked up


async def test_hs256_signed_with_the_public_key_is_refused(issuer: LocalIssuer) -> None:
    """The key-confusion attack: HMAC over the token with the provider's public key as secret."""
    verifier, _ = verifier_for(issuer)
    signing_input = _unsigned_parts({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, issuer.claims(**MANAGER))
    signature = hmac.new(issuer.public_pem("rsa-1"), signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(Unauthenticated, match="'HS256' is not accepted"):
        await verifier.verify(signing_input + "." + _b64(signature))


async def test_an_algorithm_that_does_not_fit_the_key_is_refused(issuer: LocalIssuer) -> None:
    verifier, _ = verifier_for(issuer)
    # Signed by the RSA key but naming the EC key's kid: never verified against the wrong key type.
    token = issuer.token("rsa-1", **MANAGER).split(".")
    header = json.loads(base64.urlsafe_b64decode(token[0] + "=="))
    header["kid"] = "ec-1"
    forged = ".".join([_b64(json.dumps(header).encode()), token[1], token[2]])
    with pytest.raises(Unauthenticated, match="does not fit key 'ec-1'"):
        await verifier.verify(forged)


async def test_a_tampered_token_is_refused(issuer: LocalIssuer) -> None:
    verifier, _ = verifier_for(issuer)
    header, _, signature = issuer.token("rsa-1", realm_access={"roles": ["baton-reps"]}).split(".")
    promoted = _b64(json.dumps(issuer.claims(**MANAGER)).encode())
    with pytest.raises(Unauthenticated, match="Signature verification failed"):
        await verifier.verify(f"{header}.{promoted}.{signature}")


# Claim mappings as each provider documents its tokens (README, "Authentication").
PROVIDERS: list[tuple[str, dict[str, Any], dict[str, Any], Role, str | None]] = [
    (
        "keycloak",
        {"oidc_role_claim": "realm_access.roles", "oidc_role_map": {"sales-rep": "rep"}},
        {
            "realm_access": {"roles": ["offline_access", "default-roles-baton", "sales-rep"]},
            "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
            "email_verified": True,
            "email": "Alice@Example.com",
            "preferred_username": "alice",
        },
        Role.REP,
        "alice@example.com",
    ),
    (
        "okta",
        {"oidc_role_claim": "groups", "oidc_role_map": {"Baton Managers": "manager", "Baton Reps": "rep"}},
        {
            "groups": ["Everyone", "Baton Reps", "Baton Managers"],
            "scp": ["openid", "email"],
            "email": "m@example.com",
        },
        Role.MANAGER,  # in both groups: the more privileged role wins
        "m@example.com",
    ),
    (
        "entra",
        {
            "oidc_role_claim": "roles",
            "oidc_email_claim": "preferred_username",
            "oidc_role_map": {"Baton.Admin": "admin"},
        },
        {
            "roles": ["Baton.Admin"],
            "scp": "access_as_user",
            "preferred_username": "admin@contoso.onmicrosoft.com",
            "tid": "t",
        },
        Role.ADMIN,
        "admin@contoso.onmicrosoft.com",
    ),
    (
        "entra-scopes",
        {"oidc_role_claim": "scp", "oidc_role_map": {"Leads.Work": "rep"}},
        {"scp": "User.Read Leads.Work", "email": "r@contoso.com"},
        Role.REP,
        "r@contoso.com",
    ),
    (
        "google",
        {"oidc_role_claim": "hd", "oidc_role_map": {"example.com": "rep"}},
        {"hd": "example.com", "email": "bob@example.com", "email_verified": False},
        Role.REP,
        None,  # Google says the address is unverified: it identifies nobody
    ),
]


@pytest.mark.parametrize(
    ("overrides", "claims", "role", "email"), [p[1:] for p in PROVIDERS], ids=[p[0] for p in PROVIDERS]
)
async def test_provider_claims_map_to_a_baton_role_and_email(
    issuer: LocalIssuer, overrides: dict[str, Any], claims: dict[str, Any], role: Role, email: str | None
) -> None:
    verifier, _ = verifier_for(issuer, **overrides)
    principal = await verifier.verify(issuer.token("rsa-1", **claims))
    assert (principal.role, principal.email, principal.rep_id) == (role, email, None)


async def test_a_rep_id_claim_is_read_from_the_configured_claim(issuer: LocalIssuer) -> None:
    verifier, _ = verifier_for(issuer, oidc_rep_id_claim="baton.rep_id")
    rep_id = "5f0c6a3e-8a4b-4b8e-9d63-0d1f4f7e2a11"
    principal = await verifier.verify(
        issuer.token("ec-1", realm_access={"roles": ["baton-reps"]}, baton={"rep_id": rep_id})
    )
    assert (principal.role, str(principal.rep_id)) == (Role.REP, rep_id)


async def test_a_token_without_a_mapped_role_is_forbidden(issuer: LocalIssuer) -> None:
    verifier, _ = verifier_for(issuer)
    with pytest.raises(Forbidden, match=re.escape("no valid Baton role in 'realm_access.roles'")):
        await verifier.verify(issuer.token("rsa-1", realm_access={"roles": ["offline_access"]}))


def test_a_role_map_naming_an_unknown_role_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match=re.escape("unknown roles ['superuser']")):
        settings(
            LocalIssuer(base_url="http://127.0.0.1:1/realms/baton"), oidc_role_map={"admins": "superuser"}
        )
