"""The SLA policy: when to remind, how to escalate a breach, when to pause a rep; and how the
notifier retries and where it sends email. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class SlaPolicy:
    """Built once from the routing settings and handed to the timer worker.

    `deliver_notifications` is False when no webhook is configured: notifications are still
    written (as `unsent`), so what would have been said stays on record.
    """

    reminder_fractions: tuple[float, ...] = (0.5, 0.8)
    max_reassignments: int = 1
    notify_manager: bool = True
    pause_after_breaches: int = 0
    pause_window: timedelta = timedelta(hours=24)
    deliver_notifications: bool = False


@dataclass(frozen=True)
class SmtpServer:
    """Where the notifier hands reps' emails over, built from the routing settings."""

    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def retry_delay_s(attempts: int, *, base_s: float, cap_s: float = 300.0) -> float:
    """Exponential backoff after `attempts` failed webhook calls: base, 2x base, 4x base..."""
    return float(min(cap_s, base_s * 2 ** max(0, attempts - 1)))
