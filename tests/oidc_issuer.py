"""A local OpenID Connect issuer for tests: discovery document, JWKS with real RSA and EC keys.

It serves what a provider serves (OpenID Connect Discovery 1.0 §4, RFC 7517 key sets) over real
HTTP on a loopback port, and signs tokens with PyJWT like a provider would. Tests rotate keys by
publishing another set, and read `jwks_requests` to see how often Baton fetched it.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI

from shared.contracts import utc_now

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class LocalIssuer:
    base_url: str = ""
    keys: dict[str, PrivateKey] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    jwks_requests: int = 0

    @property
    def issuer(self) -> str:
        return self.base_url

    def add_rsa(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def add_ec(self, kid: str) -> None:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())

    def publish(self, *kids: str) -> None:
        self.published = list(kids)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in self.published:
            key = self.keys[kid]
            algorithm: Any = (
                jwt.algorithms.RSAAlgorithm
                if isinstance(key, rsa.RSAPrivateKey)
                else jwt.algorithms.ECAlgorithm
            )
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            jwk.update(kid=kid, use="sig")
            keys.append(jwk)
        return {"keys": keys}

    def public_pem(self, kid: str) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return (
            self.keys[kid]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(utc_now().timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": "baton",
            "sub": "00u1a2b3c4d5e6f7g8h9",
            "iat": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, kid: str, *, algorithm: str | None = None, **claims: Any) -> str:
        key = self.keys[kid]
        algorithm = algorithm or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        return jwt.encode(self.claims(**claims), key, algorithm=algorithm, headers={"kid": kid})

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "jwks_uri": f"{self.base_url}/protocol/openid-connect/certs",
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            }

        @app.get("/protocol/openid-connect/certs")
        async def certs() -> dict[str, Any]:
            self.jwks_requests += 1
            return self.jwks()

        return app


@asynccontextmanager
async def local_issuer() -> AsyncIterator[LocalIssuer]:
    """A running issuer with one RSA key (`rsa-1`) and one EC key (`ec-1`) published."""
    issuer = LocalIssuer()
    issuer.add_rsa("rsa-1")
    issuer.add_ec("ec-1")
    issuer.publish("rsa-1", "ec-1")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    issuer.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/realms/baton"
    root = FastAPI()
    root.mount("/realms/baton", issuer.app())
    server = uvicorn.Server(uvicorn.Config(root, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield issuer
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()
