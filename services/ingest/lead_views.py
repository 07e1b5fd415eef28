"""An admin's read of what ingest stored for a lead, and the search that finds one by email or
phone. Reads only: nothing here stages an event."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.errors import LeadNotFound
from services.ingest.identity import match_key, phone_key
from services.ingest.models import Lead, Submission
from services.ingest.normalize import normalize_country, normalize_phone
from shared.contracts import Touch
from shared.problems import Problem, Unprocessable


class LeadErased(Problem):
    """Erasure keeps a tombstone row (for the counts), so the lead is known to be gone, not unknown."""

    status = 410
    title = "Lead erased"
    slug = "lead-erased"


class ServiceLink(BaseModel):
    """A link for the person reading, not for a service: the path is relative to that service's
    own base URL (services never call each other)."""

    service: str = Field(description="The service that answers the path: ingest, scoring or routing.")
    path: str = Field(description="The path on that service, e.g. /v1/leads/{id}/score.")


class LeadLinks(BaseModel):
    lead: ServiceLink
    score: ServiceLink
    assignment: ServiceLink
    brief: ServiceLink


class LeadSubmissionRead(BaseModel):
    id: uuid.UUID
    form_id: str
    source: str = Field(description="The channel: 'form', or a webhook provider name.")
    submitted_at: datetime = Field(description="The touch's time: the platform's own when it gives one.")
    received_at: datetime
    touch: Touch | None = Field(description="Where this submission came from; null when it carried none.")
    fields: dict[str, Any] = Field(description="The fields as stored (emptied by an erasure).")


class LeadSummary(BaseModel):
    id: uuid.UUID
    email: str | None
    phone: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    links: LeadLinks


class LeadRead(LeadSummary):
    account_id: uuid.UUID | None
    consent: bool | None = Field(description="The newest submission's consent answer, when one gave it.")
    attributes: dict[str, Any] = Field(
        description="The newest value of every field the lead's submissions gave, newest submission first."
    )
    first_touch: Touch | None
    submissions: list[LeadSubmissionRead] = Field(description="Newest first.")


def links_of(lead_id: uuid.UUID) -> LeadLinks:
    return LeadLinks(
        lead=ServiceLink(service="ingest", path=f"/v1/leads/{lead_id}"),
        score=ServiceLink(service="scoring", path=f"/v1/leads/{lead_id}/score"),
        assignment=ServiceLink(service="routing", path=f"/v1/leads/{lead_id}/assignment"),
        brief=ServiceLink(service="routing", path=f"/v1/leads/{lead_id}/brief"),
    )


def _summary(lead: Lead) -> dict[str, Any]:
    return {
        "id": lead.id,
        "email": lead.email,
        "phone": lead.phone,
        "first_seen_at": lead.first_seen_at,
        "last_seen_at": lead.last_seen_at,
        "links": links_of(lead.id),
    }


async def get_lead(session: AsyncSession, *, lead_id: uuid.UUID) -> LeadRead:
    lead = await session.get(Lead, lead_id)
    if lead is None:
        raise LeadNotFound(f"no lead {lead_id}")
    if lead.erased_at is not None:
        raise LeadErased(f"lead {lead_id} was erased at {lead.erased_at.isoformat()}")
    rows = await session.scalars(
        select(Submission)
        .where(Submission.lead_id == lead_id)
        .order_by(Submission.received_at.desc(), Submission.id)
    )
    submissions = [_submission(row) for row in rows]
    attributes: dict[str, Any] = {}
    for submission in reversed(submissions):  # oldest first, so the newest value wins
        attributes.update({k: v for k, v in submission.fields.items() if v not in (None, "")})
    consent = attributes.pop("consent", None)
    return LeadRead(
        **_summary(lead),
        account_id=lead.account_id,
        consent=consent if isinstance(consent, bool) else _as_bool(consent),
        attributes=attributes,
        first_touch=Touch.model_validate(lead.first_touch) if lead.first_touch else None,
        submissions=submissions,
    )


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "no", "0", "off"}:
        return False
    return None


def _submission(row: Submission) -> LeadSubmissionRead:
    touch = Touch.model_validate(row.touch) if row.touch else None
    return LeadSubmissionRead(
        id=row.id,
        form_id=row.form_id,
        source=row.source,
        submitted_at=touch.occurred_at if touch is not None else row.received_at,
        received_at=row.received_at,
        touch=touch,
        fields=row.fields,
    )


async def search_leads(
    session: AsyncSession, *, email: str | None, phone: str | None, country: str | None = None
) -> list[LeadSummary]:
    """Exact matches on the keys ingest finds leads by: the email's match key (any spelling of the
    same inbox), the phone as intake normalizes it (E.164; `country` is the region of a national number, as a lead's country is at intake).
    Erased leads are never found."""
    if not email and not phone:
        raise Unprocessable("give `email` or `phone` to search by, e.g. /v1/leads?email=ada@example.com")
    conditions: list[ColumnElement[bool]] = []
    if email:
        conditions.append(Lead.match_key == match_key(email))
    if phone:
        number = normalize_phone(phone, normalize_country(country))
        if number is None:
            raise Unprocessable(f"{phone!r} is not a phone number")
        conditions.append(Lead.phone == number)
        conditions.append(Lead.match_key == phone_key(number))
    rows = await session.scalars(
        select(Lead).where(or_(*conditions), Lead.erased_at.is_(None)).order_by(Lead.first_seen_at)
    )
    return [LeadSummary(**_summary(lead)) for lead in rows]
