"""Settings shared by every service (pydantic-settings), built once in each app factory."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts.topics import consumer_group, dead_letter_topic
from shared.kafka.security import KafkaSecurity

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password", "dev"})
MIN_SECRET_LENGTH = 32
# The role names of `shared.auth.Role` (which imports these settings, hence the copy).
BATON_ROLES = frozenset({"admin", "manager", "rep", "marketing", "sales", "source"})


class KafkaSettings(BaseSettings):
    """Where the broker is and how to log in to it (also used alone by `baton topics`)."""

    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore")

    kafka_bootstrap_servers: str = Field(
        validation_alias=AliasChoices("BATON_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = Field(default=None, description="CA bundle for the broker's TLS.")

    @model_validator(mode="after")
    def _kafka_login_is_complete(self) -> KafkaSettings:
        # Caught at start-up with the variable's name, not as a refused login later.
        protocol = self.kafka_security_protocol
        if protocol.startswith("SASL_") and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                f"BATON_KAFKA_SECURITY_PROTOCOL={protocol} needs BATON_KAFKA_SASL_USERNAME and BATON_KAFKA_SASL_PASSWORD"
            )
        if self.kafka_ssl_cafile and not Path(self.kafka_ssl_cafile).is_file():
            raise ValueError(f"BATON_KAFKA_SSL_CAFILE {self.kafka_ssl_cafile!r} is not a readable file")
        return self

    @property
    def kafka_security(self) -> KafkaSecurity:
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None,
            ssl_cafile=self.kafka_ssl_cafile,
        )


# Of the shutdown budget, the share uvicorn gets to finish in-flight requests; the lifespan's
# stops (workers, consumer, relay, producer) share the rest.
DRAIN_SHARE = 0.25


class ShutdownSettings(BaseSettings):
    """How long a process may take from SIGTERM to exit (also read alone by `baton serve`)."""

    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore")

    shutdown_budget_seconds: float = Field(
        default=45.0,
        gt=0,
        description="Seconds from SIGTERM to exit: a quarter for uvicorn to finish in-flight "
        "requests, the rest for the stops (workers, the consumer's commit and LeaveGroup, the "
        "relay's drain of the outbox, the producer's flush), each bounded by what is left. The "
        "chart derives terminationGracePeriodSeconds from it (budget + preStop + margin), so a "
        "pod is never killed before it left its consumer group.",
    )

    @property
    def drain_seconds(self) -> float:
        return self.shutdown_budget_seconds * DRAIN_SHARE

    @property
    def stop_seconds(self) -> float:
        return self.shutdown_budget_seconds - self.drain_seconds


class ServiceSettings(KafkaSettings, ShutdownSettings):
    """Connection and runtime settings common to every Baton service.

    Every variable takes the `BATON_` prefix; the database and broker also accept the
    conventional `DATABASE_URL` and `KAFKA_BOOTSTRAP_SERVERS`.
    """

    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore")

    service_name: str = "baton"
    database_url: str = Field(
        validation_alias=AliasChoices("BATON_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL, e.g. postgresql+asyncpg://user:pass@host/db.",
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        description="Connections each process keeps open. With `database_max_overflow`, the most "
        "one process opens; the chart's connection budget multiplies it by the replicas.",
    )
    database_max_overflow: int = Field(
        default=10, ge=0, description="Connections a process may open past the pool in a burst."
    )
    database_pgbouncer: bool = Field(
        default=False,
        description="The database URL points at PgBouncer in transaction mode (older than 1.21, or "
        "without `max_prepared_statements`): prepared-statement caches off, and the outbox relay "
        "polls instead of holding a LISTEN connection, which transaction pooling cannot keep.",
    )
    database_pre_ping: bool = Field(
        default=True,
        description="Test each pooled connection with a round trip before use. Off, a connection "
        "the database dropped fails one request (the pool then replaces every older connection).",
    )
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    auth_mode: Literal["hs256", "oidc"] = "hs256"
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="Shared HS256 signing secret (development). At least 32 characters.",
    )
    oidc_jwks_url: str | None = Field(
        default=None,
        description="The provider's JWKS; unset, it is read from the issuer's "
        "`/.well-known/openid-configuration`.",
    )
    oidc_issuer: str | None = None
    oidc_audience: str = "baton"
    oidc_leeway_s: int = Field(
        default=60,
        ge=0,
        le=300,
        description="Clock skew tolerated between the provider and Baton on `exp`, `nbf` and `iat`.",
    )
    oidc_jwks_min_refresh_interval_s: float = Field(
        default=30.0,
        ge=0,
        description="Least time between two JWKS fetches caused by tokens naming an unknown key "
        "(a token with a made-up `kid` must not make Baton hammer the provider).",
    )
    oidc_role_claim: str = Field(
        default="baton_role",
        description="The claim carrying the role: a name or a dotted path, e.g. `groups`, `roles`, "
        "`realm_access.roles`, `scp`. A list or space-separated string gives the most privileged role.",
    )
    oidc_role_map: dict[str, str] = Field(
        default_factory=dict,
        description="JSON mapping of the provider's group or role names to Baton roles, e.g. "
        '`{"sales-managers": "manager", "sales-reps": "rep"}`.',
    )
    oidc_rep_id_claim: str = Field(
        default="rep_id",
        description="The claim carrying a rep's Baton id; a rep token without it is matched to "
        "the rep record by the (verified) email claim.",
    )
    oidc_email_claim: str = Field(
        default="email", description="The claim carrying the caller's email (Entra ID: `preferred_username`)."
    )

    outbox_poll_interval_s: float = Field(
        default=0.5,
        description="Fallback polling period of the outbox relay; NOTIFY wakes it sooner.",
    )
    outbox_batch_size: int = Field(
        default=2000,
        ge=1,
        description="Outbox rows the relay publishes per pass (one transaction, one wait for the "
        "broker's acks). A consumer stages up to a fetch's 1,000 events per commit: a pass takes "
        "them at once.",
    )
    consumer_max_attempts: int = Field(
        default=5, description="Attempts per message before it goes to the dead-letter topic."
    )
    consumer_retry_backoff_s: float = 0.2
    consume: bool = Field(
        default=True,
        description="Run the service's Kafka consumer. `false` serves the API and background workers only "
        "(an API-only deployment, or a test of the workers that must not join the consumer group).",
    )
    consumer_group_id: str | None = Field(
        default=None,
        description="The consumer group id, `baton-<service>` by default. Another id starts a group "
        "of its own (from the earliest offsets unless it committed some): e.g. a second deployment "
        "on the same Kafka cluster. Dead letters still go to `baton-<service>.dlq`.",
    )
    processed_event_retention_days: float = Field(
        default=8.0,
        ge=0,
        description="How long a consumer keeps the `processed_event` row of an event it handled; 0 "
        "keeps them forever. A redelivery can come from the topic (an event stays there for its "
        "retention, 7 days in the chart, and a group whose offsets expired rereads from the "
        "earliest) or from a relay that published and crashed before marking the row sent (it "
        "publishes again when its service is back). 8 days covers the first, and the second "
        "for a service back within a day; raise it with the topics' retention.",
    )
    processed_event_prune_interval_s: float = Field(
        default=3600.0, gt=0, description="How often a consumer prunes its expired `processed_event` rows."
    )
    consumer_fetch_max_wait_ms: int = Field(
        default=40,
        ge=1,
        description="How long the broker may hold a fetch that found nothing new. Apache Kafka "
        "answers as soon as a record arrives, so there it only paces idle polling; the embedded "
        "broker holds every such fetch this long, which adds up to this much to each consumer "
        "hop of a lead's journey (100 ms made form-to-assignment p50 about 330 ms at 100 leads/s, "
        "40 ms about 105 ms, for about 8 % of a core more broker CPU when idle).",
    )
    consumer_patient_fetch_max_wait_ms: int = Field(
        # 40 until a short chaos run passes with 250: with 250 it left 334 MQLs unassigned
        # after the PostgreSQL restart, twice (session 12).
        default=40,
        ge=1,
        description="The same hold for the consumer groups whose work can wait (routing's `followup` "
        "lane: the lead brief, outbound webhooks, the CRM owner; all of feedback, a read model). "
        "Against the embedded broker, whose held empty fetches cost CPU, a longer hold for them "
        "makes an idle `baton up` cheaper; under load a fetch finds records and is not held. It "
        "may add this much to a webhook delivery or a dashboard figure, never to an assignment.",
    )
    consumer_session_timeout_ms: int = Field(
        default=10_000,
        description="Kafka group session timeout. The embedded broker holds a join for half of it, "
        "so `baton up` and the tests lower it to start consuming sooner.",
    )

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, value: str) -> str:
        # People paste plain postgres:// URLs from their provider; the async engine needs asyncpg.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value.removeprefix(prefix)
        return value

    @model_validator(mode="after")
    def _auth_is_configured(self) -> ServiceSettings:
        if self.auth_mode == "hs256":
            secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
            if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    "BATON_JWT_SECRET must be set to a random string of at least "
                    f"{MIN_SECRET_LENGTH} characters (or set BATON_AUTH_MODE=oidc)"
                )
        elif not self.oidc_issuer:
            raise ValueError(
                "BATON_AUTH_MODE=oidc needs BATON_OIDC_ISSUER (and BATON_OIDC_JWKS_URL unless discoverable)"
            )
        unknown = set(self.oidc_role_map.values()) - BATON_ROLES
        if unknown:
            raise ValueError(
                f"BATON_OIDC_ROLE_MAP maps to unknown roles {sorted(unknown)}; roles are {sorted(BATON_ROLES)}"
            )
        return self

    @property
    def consumer_group(self) -> str:
        return self.consumer_group_id or consumer_group(self.service_name)

    @property
    def dead_letter_topic(self) -> str:
        return dead_letter_topic(consumer_group(self.service_name))
