"""Fetched platform leads as the quarantine keeps them.

Meta and LinkedIn send ids only; the lead itself comes from their API. A fetched lead that
cannot be mapped is quarantined as one JSON document holding everything its parser reads (the
notification and the platform API's answer, and for LinkedIn the form's questions), so a replay
maps exactly what was fetched, without asking the platform again (it may have deleted the lead).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.ingest.linkedin import LinkedInNotification, LinkedInQuestion, linkedin_lead
from services.ingest.providers import LeadgenChange, PayloadInvalid, PlatformLead, as_dict, facebook_lead


def facebook_fetched_body(change: LeadgenChange, graph_lead: object) -> bytes:
    """The stored form of one Meta lead: its `leadgen` change and the Graph API's answer."""
    notification = {
        "leadgen_id": change.leadgen_id,
        "form_id": change.form_id,
        "ad_id": change.ad_id,
        "page_id": change.page_id,
    }
    return json.dumps({"notification": notification, "lead": graph_lead}).encode()


def facebook_fetched_lead(body: bytes, _params: Mapping[str, str]) -> PlatformLead:
    """Read a stored Meta lead back with the parser that read it on receipt."""
    stored = _stored(body)
    notification = as_dict(stored.get("notification"), "notification")
    change = LeadgenChange(
        leadgen_id=str(notification.get("leadgen_id") or ""),
        form_id=_optional(notification.get("form_id")),
        ad_id=_optional(notification.get("ad_id")),
        page_id=_optional(notification.get("page_id")),
    )
    if not change.leadgen_id:
        raise PayloadInvalid("stored Meta lead has no leadgen_id")
    return facebook_lead(change, stored.get("lead"))


def linkedin_fetched_body(
    notification: LinkedInNotification, response: object, questions: Mapping[str, LinkedInQuestion]
) -> bytes:
    """The stored form of one LinkedIn lead: its notification, the form response and the form's
    questions as they were resolved."""
    stored = {
        "notification": {
            "action": notification.action,
            "response_id": notification.response_id,
            "form_id": notification.form_id,
            "occurred_at": notification.occurred_at.isoformat() if notification.occurred_at else None,
        },
        "lead": response,
        "questions": {qid: {"name": q.name, "options": q.options} for qid, q in questions.items()},
    }
    return json.dumps(stored).encode()


def linkedin_fetched_lead(body: bytes, _params: Mapping[str, str]) -> PlatformLead:
    """Read a stored LinkedIn lead back with the parser that read it on receipt."""
    stored = _stored(body)
    raw = as_dict(stored.get("notification"), "notification")
    occurred = raw.get("occurred_at")
    try:
        occurred_at = datetime.fromisoformat(occurred) if isinstance(occurred, str) else None
    except ValueError as exc:
        raise PayloadInvalid("stored LinkedIn notification has an invalid occurred_at") from exc
    notification = LinkedInNotification(
        action=str(raw.get("action") or "CREATED"),
        response_id=str(raw.get("response_id") or ""),
        form_id=_optional(raw.get("form_id")),
        occurred_at=occurred_at,
    )
    if not notification.response_id:
        raise PayloadInvalid("stored LinkedIn lead has no response_id")
    questions = {
        str(qid): LinkedInQuestion(
            name=str(as_dict(q, "question").get("name")),
            options={
                str(k): str(v)
                for k, v in as_dict(as_dict(q, "question").get("options", {}), "options").items()
            },
        )
        for qid, q in as_dict(stored.get("questions", {}), "questions").items()
    }
    return linkedin_lead(notification, stored.get("lead"), questions)


def _stored(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise PayloadInvalid("stored fetched lead is not JSON") from exc
    return as_dict(data, "stored fetched lead")


def _optional(value: object) -> str | None:
    return None if value is None else str(value)
