from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from services.routing.outbound_settings import OutboundSettings
from services.routing.policy import SlaPolicy, SmtpServer


class RoutingSettings(OutboundSettings):
    service_name: str = "routing"
    routing_rules_path: Path | None = Field(
        default=None,
        description="YAML routing rules to route with until a rule set is activated through the API "
        "(BATON_ROUTING_RULES_PATH); the packaged default (one pool of every rep) if unset.",
    )
    routing_senders: Literal["inline", "separate"] = Field(
        default="inline",
        description="Where the senders (rep notifications, outbound webhooks, CRM owner sync) run "
        "(BATON_ROUTING_SENDERS): `inline` in this process, beside the assignment path; `separate` "
        "only in `baton serve routing --role senders` processes, so their HTTP and SMTP sends never "
        "take this process's core (docs/senders.md).",
    )
    worker_interval_s: float = Field(
        default=1.0,
        description="How often each replica fires due SLA timers and retries the fallback queue.",
    )
    hot_again_score_jump: float = Field(
        default=20.0,
        gt=0,
        description="A score rise of at least this many points makes a lead a rep holds hot again "
        "when the signed agreement names no threshold (`hot_again_score_jump`): the rep is told at once.",
    )
    worker_batch_size: int = Field(default=200, ge=1, description="SLA timers claimed per transaction.")
    sla_max_reassignments: int = Field(
        default=1,
        ge=0,
        description="How many times a breached lead is handed to the next eligible rep (0: never).",
    )
    sla_reminder_fractions: list[float] = Field(
        default=[0.5, 0.8],
        description="Reminders before a breach, as fractions of the first-touch target "
        "(JSON list; [] turns reminders off).",
    )
    sla_notify_manager: bool = Field(
        default=True, description="On a breach, also notify the rep's manager (reps with a manager_id)."
    )
    sla_pause_after_breaches: int = Field(
        default=0,
        ge=0,
        description="Switch a rep off after this many breaches within the pause window (0: never).",
    )
    sla_pause_window_hours: float = Field(
        default=24.0, gt=0, description="The window in which a rep's breaches count towards a pause."
    )
    default_currency: str = Field(
        default="EUR",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 currency of a won deal's amount when the rep names none.",
    )
    notification_webhook_url: SecretStr | None = Field(
        default=None,
        description="Slack-compatible incoming webhook for SLA reminders, breaches and pauses. "
        "Unset: notifications are recorded (status `unsent`) but not sent.",
    )
    public_url: str = Field(
        default="http://localhost:8003",
        pattern=r"^https?://\S+$",
        description="Where reps reach routing's API (BATON_PUBLIC_URL): the links in their notifications.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server for reps who chose email notifications. Unset: those are recorded "
        "(status `unsent`) but not sent.",
    )
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    notification_email_from: str = Field(
        default="Baton <baton@localhost>", description="The From of notification emails."
    )
    notification_interval_s: float = Field(
        default=0.25,
        gt=0,
        description="How often the notifier polls: a rep hears of a new lead within about this long.",
    )
    notification_timeout_s: float = Field(default=5.0, gt=0, description="Timeout of one webhook call.")
    notification_max_attempts: int = Field(
        default=8, ge=1, description="Webhook attempts before a notification is given up as `failed`."
    )
    notification_backoff_s: float = Field(
        default=2.0, gt=0, description="First retry delay; it doubles per attempt, up to 5 minutes."
    )

    @field_validator("sla_reminder_fractions")
    @classmethod
    def _fractions_of_the_target(cls, value: list[float]) -> list[float]:
        if any(not 0 < f < 1 for f in value):
            raise ValueError("reminder fractions must lie strictly between 0 and 1")
        return sorted(set(value))

    @property
    def smtp(self) -> SmtpServer | None:
        if self.smtp_host is None:
            return None
        return SmtpServer(
            host=self.smtp_host,
            port=self.smtp_port,
            starttls=self.smtp_starttls,
            username=self.smtp_username,
            password=self.smtp_password.get_secret_value() if self.smtp_password else None,
            sender=self.notification_email_from,
        )

    @property
    def sla_policy(self) -> SlaPolicy:
        return SlaPolicy(
            reminder_fractions=tuple(self.sla_reminder_fractions),
            max_reassignments=self.sla_max_reassignments,
            notify_manager=self.sla_notify_manager,
            pause_after_breaches=self.sla_pause_after_breaches,
            pause_window=timedelta(hours=self.sla_pause_window_hours),
            deliver_notifications=self.notification_webhook_url is not None,
        )
