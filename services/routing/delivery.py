"""The channels the notifier sends on: the team's Slack-compatible webhook, a rep's Slack (their
own incoming webhook, or the team's with their mention) and a rep's email over SMTP.

Each channel is a `Sender`: it takes one claimed notification and answers the outcome, never
raising, so one channel's trouble never holds up another's. A new channel (the outbound
webhooks' subscriptions, say) is one more `Sender` in the mapping `senders()` builds, and one
more value of `notification.channel`.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from services.routing import rep_notices
from services.routing.mail import SmtpSessions, plain_text
from services.routing.metrics import NOTIFICATION_FAILURES
from services.routing.notifications import UNDELIVERABLE, Outgoing

log = logging.getLogger(__name__)

# Slack's answers that no retry changes: 400 `invalid_payload`/`no_text`, 403
# `action_prohibited`, 404 `no_service`/`channel_not_found`, 410 `channel_is_archived`.
PERMANENT = frozenset({400, 403, 404, 410})


@dataclass(frozen=True)
class Outcome:
    """None: delivered; `UNDELIVERABLE`: the channel is not set up; else why it failed, how
    long the other side asked us to wait (Slack's Retry-After on a 429), and whether trying
    again cannot help (a revoked webhook, a payload Slack refuses)."""

    error: str | None = None
    retry_after_s: float | None = None
    permanent: bool = False


Sender = Callable[[Outgoing], Awaitable[Outcome]]


def senders(
    client: httpx.AsyncClient,
    *,
    team_url: str | None,
    mail: SmtpSessions | None,
    public_url: str,
) -> Mapping[str, Sender]:
    """One sender per `notification.channel`; emails go out on `mail`'s pooled sessions."""

    async def to_team(outgoing: Outgoing) -> Outcome:
        if team_url is None:
            return Outcome(UNDELIVERABLE)
        return await post_json(client, team_url, outgoing.message, notification=outgoing)

    async def to_rep_slack(outgoing: Outgoing) -> Outcome:
        url = outgoing.recipient or team_url
        if url is None:
            return Outcome(UNDELIVERABLE)
        body = rep_notices.slack_message(outgoing.message, public_url=public_url)
        return await post_json(client, url, body, notification=outgoing)

    async def to_rep_email(outgoing: Outgoing) -> Outcome:
        if mail is None or outgoing.recipient is None:
            return Outcome(UNDELIVERABLE)
        subject, body = rep_notices.email_text(outgoing.message, public_url=public_url)
        message = plain_text(
            sender=mail.server.sender,
            to=outgoing.recipient,
            subject=subject,
            body=body,
            message_id=str(outgoing.id),
        )
        try:
            # smtplib blocks: in a thread, so the notifier's loop keeps going.
            await asyncio.to_thread(mail.send, message)
        except (smtplib.SMTPException, OSError) as exc:
            NOTIFICATION_FAILURES.labels("smtp").inc()
            log.warning(
                "routing.notification_failed", extra={"notification_id": str(outgoing.id), "smtp": repr(exc)}
            )
            return Outcome(f"smtp: {exc!r}")
        return Outcome()

    return {"team": to_team, "slack": to_rep_slack, "email": to_rep_email}


async def post_json(
    client: httpx.AsyncClient, url: str, body: Mapping[str, Any], *, notification: Outgoing
) -> Outcome:
    """POST one message to a Slack-compatible webhook. Slack answers 200 `ok`, or a status with
    a short reason in the body (400 `invalid_payload`, 404 `no_service`, 429 with Retry-After)."""
    try:
        response = await client.post(url, json=body)
    except httpx.TimeoutException as exc:
        NOTIFICATION_FAILURES.labels("timeout").inc()
        return Outcome(f"timeout: {exc!r}")
    except httpx.HTTPError as exc:
        NOTIFICATION_FAILURES.labels("connection").inc()
        return Outcome(f"connection: {exc!r}")
    if response.is_success:
        return Outcome()
    NOTIFICATION_FAILURES.labels(f"http_{response.status_code}").inc()
    log.warning(
        "routing.notification_failed",
        extra={"notification_id": str(notification.id), "status": response.status_code},
    )
    return Outcome(
        f"HTTP {response.status_code}: {response.text[:200]}",
        _retry_after(response),
        permanent=response.status_code in PERMANENT,
    )


def _retry_after(response: httpx.Response) -> float | None:
    # Slack answers 429 with Retry-After in seconds.
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None
