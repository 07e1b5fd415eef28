"""The Standard Webhooks signing of outbound deliveries, checked by a third-party verifier (the
`standardwebhooks` package), and who a subscription hears, and when a delivery is retried."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.routing import webhooks
from services.routing.crm_clients import soql_literal
from services.routing.settings import RoutingSettings


def headers_for(keys: list[str], body: str, *, at: datetime | None = None) -> dict[str, str]:
    # Signed now, not at import: a verifier refuses a timestamp more than five minutes old.
    at = at or datetime.now(UTC)
    return webhooks.signed_headers(keys, message_id="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", sent_at=at, body=body)


class TestSigning:
    def test_a_signed_delivery_verifies_with_the_standard_webhooks_library(self) -> None:
        now = datetime.now(UTC)
        secret = webhooks.generate_secret()
        body = webhooks.delivery_body(event_type="lead.assigned", occurred_at=now, data={"rep_id": "r1"})
        payload = Webhook(secret).verify(body, headers_for([secret], body))
        assert payload == {"type": "lead.assigned", "timestamp": now.isoformat(), "data": {"rep_id": "r1"}}

    def test_the_spec_example_signature_is_reproduced(self) -> None:
        # The example of the specification (standard-webhooks/spec/standard-webhooks.md).
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        body = '{"test": 2432232314}'
        signature = webhooks.sign(
            secret, message_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330, body=body
        )
        assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    def test_a_tampered_body_or_another_secret_is_refused(self) -> None:
        secret, other = webhooks.generate_secret(), webhooks.generate_secret()
        headers = headers_for([secret], '{"a":1}')
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify('{"a":2}', headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(other).verify('{"a":1}', headers)

    def test_during_the_overlap_either_secret_verifies_and_after_it_only_the_new_one(self) -> None:
        now = datetime.now(UTC)
        old, new = webhooks.generate_secret(), webhooks.generate_secret()
        keys = webhooks.SigningKeys(new, old, now + timedelta(hours=1))
        during = headers_for(keys.in_use(now), "{}")
        assert during["webhook-signature"].count("v1,") == 2
        Webhook(old).verify("{}", during)
        Webhook(new).verify("{}", during)
        later = now + timedelta(hours=2)
        after = headers_for(keys.in_use(later), "{}", at=now)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify("{}", after)
        Webhook(new).verify("{}", after)

    def test_a_secret_is_whsec_and_32_random_bytes(self) -> None:
        secret = webhooks.generate_secret()
        assert secret.startswith("whsec_")
        assert len(secret) == len("whsec_") + 44
        assert secret != webhooks.generate_secret()


class TestAudience:
    ADA, BOB = uuid.uuid4(), uuid.uuid4()

    def test_an_empty_filter_hears_every_rep_and_pool(self) -> None:
        audience = webhooks.Audience(frozenset({"lead.assigned"}), frozenset(), frozenset())
        assert audience.wants("lead.assigned", rep_ids={self.ADA}, pool=None)
        assert not audience.wants("lead.touched", rep_ids={self.ADA}, pool=None)

    def test_rep_and_pool_filters_must_both_match(self) -> None:
        audience = webhooks.Audience(frozenset({"sla.breached"}), frozenset({self.BOB}), frozenset({"emea"}))
        assert audience.wants("sla.breached", rep_ids={self.ADA, self.BOB}, pool="emea")
        assert not audience.wants("sla.breached", rep_ids={self.ADA}, pool="emea")
        assert not audience.wants("sla.breached", rep_ids={self.BOB}, pool="everyone")
        assert not audience.wants("sla.breached", rep_ids={self.BOB}, pool=None)


class TestBackoff:
    def test_delays_double_from_the_base(self) -> None:
        delays = [webhooks.next_attempt_delay(n, base_s=5).total_seconds() for n in (1, 2, 3, 4)]
        assert delays == [5, 10, 20, 40]

    def test_a_longer_retry_after_wins(self) -> None:
        assert webhooks.next_attempt_delay(1, base_s=5, retry_after_s=30) == timedelta(seconds=30)

    @given(st.integers(min_value=0, max_value=200), st.floats(min_value=0.001, max_value=3600))
    def test_delays_are_capped(self, attempts: int, base_s: float) -> None:
        assert timedelta(0) < webhooks.next_attempt_delay(attempts, base_s=base_s) <= webhooks.MAX_BACKOFF


def test_soql_literals_escape_quotes_and_backslashes() -> None:
    assert soql_literal("o'brien\\x@example.com") == "'o\\'brien\\\\x@example.com'"


class TestCrmSettings:
    @pytest.fixture(autouse=True)
    def service_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("BATON_DATABASE_URL", "postgresql+asyncpg://u:p@h/db")
        monkeypatch.setenv("BATON_KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
        monkeypatch.setenv("BATON_JWT_SECRET", "a-test-secret-of-at-least-thirty-two-characters")

    def test_a_crm_needs_its_url_and_a_real_token(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("BATON_CRM_PROVIDER", "hubspot")
        with pytest.raises(ValidationError, match="BATON_CRM_BASE_URL"):
            RoutingSettings()
        monkeypatch.setenv("BATON_CRM_BASE_URL", "https://api.hubapi.com")
        monkeypatch.setenv("BATON_CRM_TOKEN", "changeme")
        with pytest.raises(ValidationError, match="placeholder"):
            RoutingSettings()
        monkeypatch.setenv("BATON_CRM_TOKEN", "pat-eu1-4f0e2c1a-9b7d-4e11-8d2c-0b9f3e6a5d21")
        assert RoutingSettings().crm_provider == "hubspot"

    def test_no_crm_is_the_default(self) -> None:
        assert RoutingSettings().crm_provider is None
