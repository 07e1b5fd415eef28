"""Notifications: for the team's webhook, what to say (Slack-compatible JSON); for a rep, the
notice `rep_notices` renders per channel. Each is a durable row written in the transaction of
what it announces. Transport-free: the notifier worker does the HTTP and the SMTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.brief_repository import BriefRepository
from services.routing.brief_view import brief_read
from services.routing.metrics import NOTIFICATIONS_ABANDONED, NOTIFICATIONS_SENT
from services.routing.models import Assignment, Rep
from services.routing.notification_repository import NotificationRepository, Settlement
from services.routing.policy import retry_delay_s
from services.routing.rep_notices import NoticeKind, notice_rows

NotificationKind = Literal["sla.reminder", "sla.breached", "sla.escalated", "rep.paused"]
# A delivery outcome: the notification's channel is not set up (no SMTP server, no webhook).
UNDELIVERABLE = "undeliverable"


def notification(
    *,
    kind: NotificationKind,
    message: dict[str, Any],
    deliver: bool,
    at: datetime,
    assignment: Assignment | None = None,
    rep: Rep | None = None,
    manager_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """A notification row to write with `record_notifications`; `deliver` False records it as
    `unsent` (no webhook configured)."""
    return {
        "id": uuid.uuid4(),
        "kind": kind,
        "lead_id": assignment.lead_id if assignment else None,
        "assignment_id": assignment.id if assignment else None,
        "rep_id": rep.id if rep else None,
        "manager_id": manager_id,
        "message": message,
        "status": "pending" if deliver else "unsent",
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
        "channel": "team",
        "recipient": None,
    }


async def record_notifications(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Write notifications in the caller's transaction, in one statement for a timer batch."""
    await NotificationRepository(session).add_all(rows)


async def tell_rep(
    session: AsyncSession,
    rep: Rep,
    assignment: Assignment,
    *,
    kind: NoticeKind,
    at: datetime,
    qualification: Mapping[str, Any],
    handover: str | None = None,
    other: Rep | None = None,
) -> None:
    """Tell `rep` of `kind` about `assignment` on each channel they chose, in the caller's
    transaction (nothing when they chose none)."""
    rows = notice_rows(
        rep,
        kind=kind,
        at=at,
        assignment_id=assignment.id,
        lead_id=assignment.lead_id,
        lead=assignment.lead,
        qualification=qualification,
        sla_due_at=assignment.sla_due_at,
        handover=handover,
        other_rep=other.name if other else None,
    )
    await NotificationRepository(session).add_all(rows)


@dataclass(frozen=True)
class Outgoing:
    """A claimed notification, detached from its session, for the notifier to send."""

    id: uuid.UUID
    kind: str
    message: dict[str, Any]
    attempts: int
    channel: str = "team"
    recipient: str | None = None


async def claim_due_notifications(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta
) -> list[Outgoing]:
    """Take up to `limit` due notifications for sending. Each claim counts an attempt and hides
    the row for `lease`, so a replica that dies mid-send leaves it to be retried, not lost."""
    rows = await NotificationRepository(session).claim_due(now=now, limit=limit, lease=lease)
    briefed = {
        row.lead_id
        for row in rows
        if row.lead_id is not None and row.channel != "team" and row.kind != "lead.handed_over"
    }
    briefs = await current_briefs(session, briefed)
    return [
        Outgoing(
            row.id,
            row.kind,
            _with_brief(row.message, briefs.get(row.lead_id)) if row.lead_id is not None else row.message,
            row.attempts,
            row.channel,
            row.recipient,
        )
        for row in rows
    ]


async def current_briefs(session: AsyncSession, lead_ids: set[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """The leads' briefs as they stand now, as JSON: a notice says what the lead did up to the
    moment it is sent, not up to when it was written."""
    repository = BriefRepository(session)
    kept, timelines = await repository.briefs(lead_ids), await repository.timelines(lead_ids)
    return {
        lead_id: brief_read(
            lead_id, kept.get(lead_id), timelines.get(lead_id, []), qualification={}
        ).model_dump(mode="json")
        for lead_id in lead_ids
    }


def _with_brief(message: dict[str, Any], brief: dict[str, Any] | None) -> dict[str, Any]:
    return {**message, "brief": brief} if brief is not None else message


@dataclass(frozen=True)
class Delivered:
    """What became of one send: `error` None, delivered; `UNDELIVERABLE`, nothing is set up to
    carry it; else why it failed, how long the other side asked to wait, and whether trying
    again cannot help."""

    sent: Outgoing
    error: str | None
    retry_after_s: float | None = None
    permanent: bool = False


async def record_deliveries(
    session: AsyncSession,
    delivered: Sequence[Delivered],
    *,
    at: datetime,
    max_attempts: int,
    backoff_s: float,
) -> list[str]:
    """Book a send round's outcomes, in one statement; returns each notification's new status
    (`sent`, `unsent`, `failed`, or `pending` again after a backoff)."""
    settlements = [settlement(d, at=at, max_attempts=max_attempts, backoff_s=backoff_s) for d in delivered]
    await NotificationRepository(session).settle(settlements)
    for d, settled in zip(delivered, settlements, strict=True):
        if settled.status == "sent":
            NOTIFICATIONS_SENT.labels(d.sent.kind).inc()
        elif settled.status == "failed":
            NOTIFICATIONS_ABANDONED.labels(d.sent.kind).inc()
    return [s.status for s in settlements]


def settlement(delivered: Delivered, *, at: datetime, max_attempts: int, backoff_s: float) -> Settlement:
    sent, error = delivered.sent, delivered.error
    if error == UNDELIVERABLE:
        return Settlement(sent.id, "unsent")
    if error is None:
        return Settlement(sent.id, "sent", sent_at=at)
    if delivered.permanent or sent.attempts >= max_attempts:
        return Settlement(sent.id, "failed", last_error=error)
    delay = max(retry_delay_s(sent.attempts, base_s=backoff_s), delivered.retry_after_s or 0.0)
    return Settlement(sent.id, "pending", last_error=error, next_attempt_at=at + timedelta(seconds=delay))


# ---- messages ----------------------------------------------------------------------------------


def reminder_message(assignment: Assignment, rep: Rep | None, *, fraction: float) -> dict[str, Any]:
    headline = (
        f":hourglass_flowing_sand: {_who(rep)} has not touched a {assignment.sla_tier} lead yet: "
        f"{round(fraction * 100)} % of the SLA is gone, due {_time(assignment.sla_due_at)}."
    )
    return _slack(headline, assignment)


def breach_message(
    assignment: Assignment,
    rep: Rep | None,
    *,
    due_at: datetime,
    taken_over_by: Rep | None,
    missed: str = "did not touch",
) -> dict[str, Any]:
    handover = f" Reassigned to {taken_over_by.name}." if taken_over_by else " Nobody else could take it."
    headline = (
        f":rotating_light: SLA breached: {_who(rep)} {missed} a {assignment.sla_tier} lead "
        f"due {_time(due_at)}.{handover}"
    )
    return _slack(headline, assignment)


def manager_message(
    assignment: Assignment, rep: Rep | None, *, manager_id: uuid.UUID, due_at: datetime
) -> dict[str, Any]:
    headline = (
        f":warning: Escalation for manager {manager_id}: {_who(rep)} breached the "
        f"{assignment.sla_tier} SLA due {_time(due_at)}."
    )
    return _slack(headline, assignment, extra={"manager_id": str(manager_id)})


def paused_message(rep: Rep, *, reason: str) -> dict[str, Any]:
    text = f":pause_button: {rep.name} was switched off by the SLA policy: {reason}."
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"rep `{rep.id}`"}]},
        ],
    }


def _slack(headline: str, assignment: Assignment, *, extra: dict[str, str] | None = None) -> dict[str, Any]:
    # Blocks for people, `text` as the fallback Slack shows in notifications; no email or phone.
    lead = assignment.lead
    company = lead.get("company") or "unknown company"
    title = lead.get("job_title")
    fields = [
        f"*Lead*\n{company}" + (f", {title}" if title else ""),
        f"*Tier*\n{assignment.sla_tier}",
        f"*Country*\n{lead.get('country') or '-'}",
        f"*Source*\n{lead.get('source') or '-'}",
    ]
    ids = f"lead `{assignment.lead_id}` · assignment `{assignment.id}`"
    if extra:
        ids += "".join(f" · {key} `{value}`" for key, value in extra.items())
    return {
        "text": headline,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": ids}]},
        ],
    }


def _who(rep: Rep | None) -> str:
    return rep.name if rep is not None else "The rep"


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
