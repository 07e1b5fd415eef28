"""How Baton authenticates to Kafka: plaintext locally, SASL/SCRAM over TLS in production
(Strimzi's KafkaUser ACLs only apply once a client logs in).

`diagnose_broker` says in one sentence why a connection fails (an unknown CA, a plaintext
listener, a refused password), so readiness can report it instead of the process crash-looping
on aiokafka's generic "Unable to bootstrap".
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            # Without a CA file, the system's trust store (a broker with a public certificate).
            options["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile)
        if self.uses_sasl:
            options.update(
                sasl_mechanism=self.sasl_mechanism or "SCRAM-SHA-512",
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        return options


PLAINTEXT = KafkaSecurity()


async def diagnose_broker(
    bootstrap_servers: str, security: KafkaSecurity, *, timeout_s: float = 5.0
) -> str | None:
    """Why no bootstrap server accepts a connection with these settings; None when one does.

    It opens the connection aiokafka would (TCP, TLS handshake, SASL login), without a request."""
    problems = []
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            connection = await asyncio.wait_for(
                create_conn(host, int(port), client_id="baton-diagnosis", **security.client_options()),
                timeout_s,
            )
        except Exception as exc:
            problems.append(f"{server.strip()}: {_explain(exc, security)}")
            continue
        connection.close()
        return None
    return "; ".join(problems)


def _explain(exc: BaseException, security: KafkaSecurity) -> str:
    cafile = security.ssl_cafile or "the system trust store"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS handshake failed: certificate verify failed ({exc.verify_message}); the broker's certificate is not trusted by "
            f"{cafile} (BATON_KAFKA_SSL_CAFILE)"
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f"TLS handshake failed: {exc.reason or exc}; is this a TLS listener? "
            f"(BATON_KAFKA_SECURITY_PROTOCOL={security.protocol})"
        )
    if isinstance(exc, KafkaError) and security.uses_sasl:
        return (
            f"SASL {security.sasl_mechanism} login as {security.sasl_username!r} failed: {exc}; check "
            "BATON_KAFKA_SASL_USERNAME and BATON_KAFKA_SASL_PASSWORD"
        )
    if isinstance(exc, TimeoutError):
        return "no answer (a firewall, or a TLS listener spoken to in plaintext?)"
    if isinstance(exc, OSError):
        return f"cannot connect: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"
