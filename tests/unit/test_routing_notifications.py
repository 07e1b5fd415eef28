"""The SLA policy's pure parts: retry backoff, the Slack messages, the reminder settings."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.routing.models import Assignment, Rep
from services.routing.notifications import breach_message, manager_message, paused_message, reminder_message
from services.routing.policy import retry_delay_s
from services.routing.settings import RoutingSettings
from tests.conftest import TEST_JWT_SECRET

DUE = datetime(2026, 11, 23, 9, 35, tzinfo=UTC)


def assignment() -> Assignment:
    return Assignment(
        id=uuid.uuid4(),
        lead_id=uuid.uuid4(),
        sla_tier="hot",
        sla_due_at=DUE,
        lead={"email": "ada@analytical.example", "company": "Analytical Engines", "job_title": "CTO"},
    )


def rep(name: str = "Grace") -> Rep:
    return Rep(id=uuid.uuid4(), name=name, manager_id=None)


class TestRetryDelay:
    def test_doubles_per_attempt_from_the_base(self) -> None:
        assert [retry_delay_s(n, base_s=2) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]

    def test_is_capped(self) -> None:
        assert retry_delay_s(30, base_s=2) == 300


class TestSlackMessages:
    def test_every_message_has_a_fallback_text_and_blocks_but_no_email(self) -> None:
        a, r = assignment(), rep()
        messages = [
            reminder_message(a, r, fraction=0.5),
            breach_message(a, r, due_at=DUE, taken_over_by=rep("Ada")),
            breach_message(a, None, due_at=DUE, taken_over_by=None),
            manager_message(a, r, manager_id=uuid.uuid4(), due_at=DUE),
            paused_message(r, reason="3 SLA breaches within 24 h"),
        ]
        for message in messages:
            assert isinstance(message["text"], str)
            assert message["blocks"][0]["type"] == "section"
            assert "@" not in json.dumps(message)

    def test_a_breach_says_who_took_the_lead_over_and_when_it_was_due(self) -> None:
        text = breach_message(assignment(), rep(), due_at=DUE, taken_over_by=rep("Ada"))["text"]
        assert "Grace did not touch a hot lead due 2026-11-23 09:35 UTC" in text
        assert text.endswith("Reassigned to Ada.")

    def test_the_lead_is_named_by_company_and_title(self) -> None:
        fields = reminder_message(assignment(), rep(), fraction=0.8)["blocks"][1]["fields"]
        assert fields[0]["text"] == "*Lead*\nAnalytical Engines, CTO"


class TestReminderSettings:
    def settings(self, **values: object) -> RoutingSettings:
        return RoutingSettings.model_validate(
            {
                "database_url": "postgresql://x/y",
                "kafka_bootstrap_servers": "k:9092",
                "jwt_secret": TEST_JWT_SECRET,
                **values,
            }
        )

    def test_default_reminders_at_half_and_four_fifths_without_a_webhook(self) -> None:
        policy = self.settings().sla_policy
        assert policy.reminder_fractions == (0.5, 0.8)
        assert policy.deliver_notifications is False

    def test_fractions_are_sorted_and_deduplicated(self) -> None:
        assert self.settings(sla_reminder_fractions=[0.9, 0.25, 0.9]).sla_reminder_fractions == [0.25, 0.9]

    @pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1])
    def test_a_fraction_outside_the_target_is_refused(self, fraction: float) -> None:
        with pytest.raises(ValidationError):
            self.settings(sla_reminder_fractions=[fraction])

    def test_a_webhook_url_turns_delivery_on(self) -> None:
        policy = self.settings(notification_webhook_url="https://hooks.slack.example/T/B/X").sla_policy
        assert policy.deliver_notifications is True
