"""Kafka over TLS as production runs it, and what a wrong CA or password does to a service.

The embedded broker (tansu) speaks neither TLS nor SASL. So the client configuration Baton
builds from its settings is checked against what aiokafka needs for SASL_SSL with SCRAM-SHA-512
and a CA file, and TLS is tested end to end through a TLS-terminating proxy (Python `ssl`, a
certificate signed by a CA made here) in front of a tansu of the test's own that advertises the
proxy's address: an aiokafka client configured by Baton's settings produces and consumes
through the handshake, and a service given the wrong CA serves an unready `/readyz` that says so.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from baton.embedded import free_port, tansu_binary, terminate, wait_for_port
from services.feedback.main import create_app
from services.feedback.settings import FeedbackSettings
from shared.kafka import ensure_topics
from shared.kafka.security import diagnose_broker
from shared.settings import KafkaSettings
from tests.conftest import Infra
from tests.support.apps import running_app
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    other_ca_file: Path  # a CA that did not sign the broker's certificate
    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = _ca("Baton Test Kafka CA")
    _, other_ca = _ca("Some Other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("kafka-0.baton.test"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(root / "ca.pem", root / "other-ca.pem", root / "broker.pem", root / "broker.key")
    pki.ca_file.write_bytes(_pem(ca_cert))
    pki.other_ca_file.write_bytes(_pem(other_ca))
    pki.cert_file.write_bytes(_pem(cert))
    pki.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return pki


@dataclass
class TlsBroker:
    bootstrap_servers: str
    handshakes: int = 0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


@pytest.fixture(scope="module")
def tansu_behind_tls() -> Iterator[tuple[int, int]]:
    """A tansu of this module's own on a plaintext port, advertising the TLS proxy's port."""
    plain_port, tls_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{plain_port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{tls_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", plain_port)
        yield plain_port, tls_port
    finally:
        terminate(process, 5.0)


@pytest.fixture
async def tls_broker(pki: Pki, tansu_behind_tls: tuple[int, int]) -> AsyncIterator[TlsBroker]:
    plain_port, tls_port = tansu_behind_tls
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert_file, pki.key_file)
    broker = TlsBroker(f"127.0.0.1:{tls_port}")
    pipes: set[asyncio.Task[None]] = set()

    async def forward(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        broker.handshakes += 1  # asyncio calls back only once the TLS handshake succeeded
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", plain_port)
        for task in (
            asyncio.create_task(_pipe(client_reader, upstream_writer)),
            asyncio.create_task(_pipe(upstream_reader, client_writer)),
        ):
            pipes.add(task)
            task.add_done_callback(pipes.discard)

    server = await asyncio.start_server(forward, "127.0.0.1", tls_port, ssl=context)
    try:
        yield broker
    finally:
        server.close()
        for task in list(pipes):
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        await server.wait_closed()


def kafka_settings(bootstrap: str, **values: Any) -> KafkaSettings:
    return KafkaSettings.model_validate({"BATON_KAFKA_BOOTSTRAP_SERVERS": bootstrap, **values})


async def test_sasl_ssl_scram_settings_build_what_aiokafka_needs(pki: Pki) -> None:
    settings = kafka_settings(
        "kafka-bootstrap.kafka.svc:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="baton-routing",
        kafka_sasl_password="s3cr3t-from-the-KafkaUser-secret",
        kafka_ssl_cafile=str(pki.ca_file),
    )
    options = settings.kafka_security.client_options()
    context = options.pop("ssl_context")
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "baton-routing",
        "sasl_plain_password": "s3cr3t-from-the-KafkaUser-secret",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert "Baton Test Kafka CA" in str(context.get_ca_certs())  # the CA file, not the system store
    assert len(context.get_ca_certs()) == 1
    # aiokafka validates these at construction: a wrong combination would raise here.
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, **options, ssl_context=context
    )
    assert producer.client._security_protocol == "SASL_SSL"
    assert producer.client._sasl_mechanism == "SCRAM-SHA-512"
    assert producer.client._ssl_context is context


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "SASL_SSL needs BATON_KAFKA_SASL_USERNAME"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nowhere/ca.pem"}, "is not a readable file"),
    ],
)
def test_an_incomplete_kafka_login_is_refused_at_start_up(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kafka_settings("kafka:9093", **values)


async def test_a_client_configured_by_the_settings_produces_and_consumes_through_tls(
    pki: Pki, tls_broker: TlsBroker
) -> None:
    security = kafka_settings(
        tls_broker.bootstrap_servers, kafka_security_protocol="SSL", kafka_ssl_cafile=str(pki.ca_file)
    ).kafka_security
    topic = f"tls.check.{uuid.uuid4().hex[:8]}"
    await ensure_topics(tls_broker.bootstrap_servers, [topic], partitions=1, security=security)
    producer = AIOKafkaProducer(bootstrap_servers=tls_broker.bootstrap_servers, **security.client_options())
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"over tls", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=tls_broker.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **security.client_options(),
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 20)
    finally:
        await consumer.stop()
    assert record.value == b"over tls"
    assert tls_broker.handshakes >= 3  # admin, producer and consumer each shook hands
    assert await diagnose_broker(tls_broker.bootstrap_servers, security) is None


async def test_a_plaintext_client_gets_nothing_from_the_tls_listener(tls_broker: TlsBroker) -> None:
    problem = await diagnose_broker(
        tls_broker.bootstrap_servers, kafka_settings(tls_broker.bootstrap_servers).kafka_security, timeout_s=2
    )
    assert problem is not None
    assert tls_broker.handshakes == 0


async def test_a_wrong_ca_leaves_the_service_up_and_unready_saying_why(
    pki: Pki, tls_broker: TlsBroker, settings_env: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_KAFKA_BOOTSTRAP_SERVERS", tls_broker.bootstrap_servers)
    monkeypatch.setenv("BATON_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("BATON_KAFKA_SSL_CAFILE", str(pki.other_ca_file))
    app = create_app(FeedbackSettings())
    async with running_app(app, consume=False) as client:  # the lifespan did not raise: no crash loop
        assert (await client.get("/healthz")).status_code == 200
        response = await client.get("/readyz")
        assert response.status_code == 503
        broker = response.json()["checks"]["broker"]
        assert "TLS handshake failed: certificate verify failed" in broker, broker
        assert "BATON_KAFKA_SSL_CAFILE" in broker
        assert str(pki.other_ca_file) in broker
        assert response.json()["checks"]["database"] == "ok"


async def test_a_refused_sasl_login_is_reported_not_crashed_on(
    pki: Pki, tls_broker: TlsBroker, settings_env: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tansu has no SASL, so it refuses any login, as a broker refuses a wrong password."""
    monkeypatch.setenv("BATON_KAFKA_BOOTSTRAP_SERVERS", tls_broker.bootstrap_servers)
    monkeypatch.setenv("BATON_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("BATON_KAFKA_SSL_CAFILE", str(pki.ca_file))
    monkeypatch.setenv("BATON_KAFKA_SASL_USERNAME", "baton-feedback")
    monkeypatch.setenv("BATON_KAFKA_SASL_PASSWORD", "not-the-password")
    app = create_app(FeedbackSettings())
    async with running_app(app, consume=False) as client:

        async def unready_with_reason() -> None:
            response = await client.get("/readyz")
            assert response.status_code == 503
            broker = response.json()["checks"]["broker"]
            assert "SASL SCRAM-SHA-512 login as 'baton-feedback' failed" in broker, broker
            assert "BATON_KAFKA_SASL_PASSWORD" in broker

        await eventually(unready_with_reason, timeout_s=10)
