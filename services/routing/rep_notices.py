"""What a rep is told about a lead they hold, or held: an assignment, a hand-over (to the new and
the old holder), an SLA reminder and a lead that is hot again. Each is stored as a notice, one row per channel the rep
chose, in the transaction of what it announces; the notifier renders it for its channel (a
Slack-compatible message, an email) when it sends it. Pure: no session, no transport.

A notice carries the facts, never a rendered text, so the public URL and the rep's time zone
are applied at sending time by the same renderer whatever wrote the notice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Literal
from zoneinfo import ZoneInfo

from services.routing.models import Rep

RepChannel = Literal["slack", "email"]
REP_CHANNELS: tuple[RepChannel, ...] = ("slack", "email")
NoticeKind = Literal["lead.assigned", "lead.handed_over", "sla.reminder", "accept.reminder", "hot_again"]
# How many of the brief's rules and activities a message shows: the rest is one click away.
BRIEF_RULES_SHOWN = 5
BRIEF_ACTIVITIES_SHOWN = 5

# Why a lead changed hands, as the new holder and the old one read it.
HANDOVER_REASONS = {
    "declined": "its previous rep declined it",
    "reassigned": "a manager reassigned it",
    "escalated": "its SLA was breached",
    "from_fallback_queue": "it waited in the fallback queue",
}
# The same, as the rep who no longer holds the lead reads it.
HANDED_OVER_BECAUSE = {**HANDOVER_REASONS, "declined": "you declined it", "escalated": "its SLA was breached"}


def notice_rows(
    rep: Rep,
    *,
    kind: NoticeKind,
    at: datetime,
    assignment_id: uuid.UUID,
    lead_id: uuid.UUID,
    lead: Mapping[str, Any],
    qualification: Mapping[str, Any],
    sla_due_at: datetime,
    handover: str | None = None,
    other_rep: str | None = None,
    fraction: float | None = None,
    hot: str | None = None,
) -> list[dict[str, Any]]:
    """The notification rows that tell `rep` of `kind`, one per channel they chose (none when
    they chose none). `handover` says why a lead changed hands and `other_rep` who the other
    holder is; `fraction` is how much of the SLA a reminder finds gone; `hot` what the lead
    just did that makes it hot again."""
    channels = [c for c in (rep.notify_channels or ()) if c in REP_CHANNELS]
    if not channels:
        return []
    notice = {
        "kind": kind,
        "rep": {"id": str(rep.id), "name": rep.name, "slack_user_id": rep.slack_user_id},
        "lead": {
            "id": str(lead_id),
            "name": " ".join(p for p in (lead.get("first_name"), lead.get("last_name")) if p) or None,
            "company": lead.get("company"),
            "title": lead.get("job_title"),
        },
        "why": {key: qualification.get(key) for key in ("grade", "score", "sla_tier")},
        "sla_due_at": sla_due_at.astimezone(UTC).isoformat(),
        "time_zone": rep.timezone,
        "assignment_id": str(assignment_id),
        "handover": handover,
        "other_rep": other_rep,
        "fraction": fraction,
        "hot": hot,
    }
    return [
        {
            "id": uuid.uuid4(),
            "kind": kind,
            "lead_id": lead_id,
            "assignment_id": assignment_id,
            "rep_id": rep.id,
            "manager_id": None,
            "message": notice,
            # Whether a channel can carry it is the notifier's call: it marks it `unsent` if not.
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": at,
            "created_at": at,
            "channel": channel,
            "recipient": rep.slack_webhook_url if channel == "slack" else rep.email,
        }
        for channel in channels
    ]


# ---- rendering, at sending time -----------------------------------------------------------------


def headline(notice: Mapping[str, Any]) -> str:
    who = _lead_line(notice)
    kind, handover, other = notice["kind"], notice.get("handover"), notice.get("other_rep")
    why = HANDOVER_REASONS.get(handover or "", handover or "")
    if kind == "lead.handed_over":
        to = f" to {other}" if other else ""
        because = HANDED_OVER_BECAUSE.get(handover or "", handover or "")
        return f"{who} was handed over{to}: {because}. You need not act on it any more."
    if kind == "hot_again":
        return f"Hot again: {who} {notice.get('hot') or 'showed buying intent'}."
    if kind == "sla.reminder":
        gone = round(float(notice.get("fraction") or 0) * 100)
        return f"Reminder: {who} is still waiting for your first touch ({gone} % of the SLA gone)."
    if kind == "accept.reminder":
        gone = round(float(notice.get("fraction") or 0) * 100)
        return f"Reminder: accept or reject {who} ({gone} % of the time the agreement gives you gone)."
    if handover:
        return f"A lead was handed to you: {who} ({why})."
    return f"New lead for you: {who}."


def due_line(notice: Mapping[str, Any]) -> str:
    """The SLA deadline in the rep's own time zone."""
    due = datetime.fromisoformat(notice["sla_due_at"]).astimezone(ZoneInfo(notice["time_zone"]))
    what = "Accept or reject" if notice["kind"] == "accept.reminder" else "First touch"
    return f"{what} due by {due:%a %d %b %Y, %H:%M} ({notice['time_zone']})"


def why_line(notice: Mapping[str, Any]) -> str:
    why = notice["why"]
    parts = [f"grade {why['grade']}" if why.get("grade") else None]
    if isinstance(why.get("score"), int | float):
        parts.append(f"score {why['score']:g}")
    if why.get("sla_tier"):
        parts.append(f"{why['sla_tier']} tier")
    return "Qualified with " + ", ".join(p for p in parts if p) if any(parts) else "Qualified"


def brief_lines(notice: Mapping[str, Any]) -> list[str]:
    """The lead's brief, as lines: the rules that fired, the form answers, the latest activities.
    The notifier attaches the brief as it stands when it sends (see `claim_due_notifications`)."""
    brief = notice.get("brief")
    if not isinstance(brief, Mapping):
        return []
    lines: list[str] = []
    rules = brief.get("why") or []
    if rules:
        lines.append(
            "Why: " + "; ".join(f"{r['reason']} ({r['points']:+g})" for r in rules[:BRIEF_RULES_SHOWN])
        )
    answers = brief.get("form_answers") or {}
    if answers:
        lines.append("Answers: " + "; ".join(f"{k}: {v}" for k, v in answers.items()))
    for activity in (brief.get("timeline") or [])[:BRIEF_ACTIVITIES_SHOWN]:
        campaign = f" (campaign {activity['campaign']})" if activity.get("campaign") else ""
        subject = f" {activity['subject']}" if activity.get("subject") else ""
        lines.append(
            f"- {activity['occurred_at'][:16].replace('T', ' ')} {activity['activity_type']}{subject}{campaign}"
        )
    return lines


def links(notice: Mapping[str, Any], *, public_url: str) -> list[tuple[str, str]]:
    """What the rep can act on, as (label, URL) pairs on routing's API."""
    base = public_url.rstrip("/")
    assignment = notice["assignment_id"]
    if notice["kind"] == "lead.handed_over":
        return [
            ("Your inbox", f"{base}/inbox"),
            ("Your queue", f"{base}/v1/reps/{notice['rep']['id']}/queue"),
        ]
    return [
        ("Your inbox", f"{base}/inbox"),
        ("The lead", f"{base}/v1/leads/{notice['lead']['id']}/assignment"),
        ("Accept (POST)", f"{base}/v1/assignments/{assignment}/accept"),
        ("Log a touch (POST)", f"{base}/v1/assignments/{assignment}/touches"),
        ("Decline (POST)", f"{base}/v1/assignments/{assignment}/decline"),
        ("Your queue", f"{base}/v1/reps/{notice['rep']['id']}/queue"),
    ]


def slack_message(notice: Mapping[str, Any], *, public_url: str) -> dict[str, Any]:
    """A Slack incoming-webhook body (`text` as the notification fallback, `blocks` for people)
    addressed to the rep: their mention when they gave a Slack user id, their name otherwise."""
    rep = notice["rep"]
    to = f"<@{rep['slack_user_id']}>" if rep.get("slack_user_id") else rep["name"]
    text = f"{to} {headline(notice)}"
    details = [why_line(notice)]
    if notice["kind"] != "lead.handed_over":
        details.append(due_line(notice))
    details.extend(brief_lines(notice))
    actions = " · ".join(f"<{url}|{label}>" for label, url in links(notice, public_url=public_url))
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(details)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": actions}]},
        ],
    }


def email_message(notice: Mapping[str, Any], *, public_url: str, to: str, sender: str) -> EmailMessage:
    """The same notice as a plain-text email to the rep alone."""
    subject, body = email_text(notice, public_url=public_url)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def email_text(notice: Mapping[str, Any], *, public_url: str) -> tuple[str, str]:
    """The subject and the body of the notice's email (`email_message`; the notifier writes
    them to the wire with `mail.plain_text`)."""
    body: Sequence[str] = [
        f"Hello {notice['rep']['name']},",
        "",
        headline(notice),
        why_line(notice) + ".",
        *([due_line(notice) + "."] if notice["kind"] != "lead.handed_over" else []),
        *brief_lines(notice),
        "",
        *(f"{label}: {url}" for label, url in links(notice, public_url=public_url)),
    ]
    return headline(notice), "\n".join(body) + "\n"


def _lead_line(notice: Mapping[str, Any]) -> str:
    lead = notice["lead"]
    who = lead.get("name") or "a lead"
    if lead.get("title"):
        who += f", {lead['title']}"
    if lead.get("company"):
        who += f" at {lead['company']}"
    return who
