"""Activity use cases: record a batch, keep anonymous activity, stitch it once the visitor is known."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.activity_repository import ActivityRepository, ActivityRows, VisitorRepository
from services.ingest.identity import match_key, normalize_email
from services.ingest.models import outbox
from services.ingest.normalize import utm_from_url
from services.ingest.repository import LeadRepository
from services.ingest.schemas import ActivityBatchResult, ActivityCreate
from services.ingest.sealing import sealed, sealed_fields
from shared.contracts import ActivityRecorded, ActivityRecordedPayload, Envelope, utc_now
from shared.outbox import add_events
from shared.sealing import PERSONAL_FIELDS

PRODUCER = "ingest"
_ITEMS = TypeAdapter(list[ActivityCreate])
# What a sealed activity's email reads as.
_SEALED_EMAIL = PERSONAL_FIELDS["activity.recorded"]["email"] or ""


def activity_properties(item: ActivityCreate) -> tuple[str, dict[str, str]]:
    """The activity's type and flat text properties as scoring reads them (`page_path`,
    `utm.source`, ...). A pricing-page visit is a page view of `/pricing`."""
    properties = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in item.properties.items()}
    kind: str = item.type
    if item.url:
        properties["url"] = item.url
        path, utm = _page(item.url)
        properties.setdefault("page_path", path)
        properties.update(utm)
    if kind == "pricing_page_view":
        kind = "page_view"
        properties.setdefault("page_path", "/pricing")
    if item.name:
        properties["name"] = item.name
    return kind, properties


@functools.lru_cache(maxsize=4096)
def _page(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A page address's path and `utm.*` properties: a stream names the same pages over and over."""
    return urlparse(url).path or "/", tuple((f"utm.{k}", v) for k, v in utm_from_url(url).items())


async def record_activities(
    session: AsyncSession, *, source_id: str, items: Sequence[dict[str, Any]] | Sequence[ActivityCreate]
) -> ActivityBatchResult:
    """Validate each item on its own (one bad item never sinks the batch; an item validated
    already passes as it is), store every valid one, and stage `activity.recorded` for those
    whose lead is known. An item carrying both an email and a visitor id reveals the visitor:
    their anonymous activity is stitched to the lead."""
    now = utc_now()
    # Answers as plain dicts, validated into the result in one call at the end: a model per item
    # cost a batch of 1,000 twice as much.
    results: list[dict[str, Any]] = []
    valid: list[tuple[int, ActivityCreate]] = []
    try:
        # Most batches are wholly valid: one validation call for the list is the fast path.
        valid = list(enumerate(_ITEMS.validate_python(items)))
    except ValidationError:
        for index, raw in enumerate(items):
            try:
                valid.append((index, ActivityCreate.model_validate(raw)))
            except ValidationError as exc:
                reason = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in exc.errors()
                )
                results.append({"index": index, "status": "rejected", "reason": reason})
    # Every lead and visitor of the batch is resolved in a few statements, not one per item.
    given = {normalize_email(i.email) for _, i in valid if i.email is not None}
    named = {match_key(e): e for e in sorted(given)}
    by_key = await LeadRepository(session).resolve_many(named, seen_at=now)
    by_email = {email: by_key[match_key(email)] for email in given}
    emails = {lead_id: named[key] for key, lead_id in by_key.items()}
    # An item naming both the person and the visitor reveals the visitor: stitch their past first,
    # so the anonymous items of this same batch find the lead too.
    revealed = {
        i.visitor_id: normalize_email(i.email) for _, i in valid if i.visitor_id and i.email is not None
    }
    for visitor_id, email in revealed.items():
        revealed_lead = by_key[match_key(email)]
        await stitch_visitor(
            session,
            visitor_id=visitor_id,
            lead_id=revealed_lead,
            email=emails[revealed_lead],
            decision="activity_email",
            caused_by=None,
        )
    anonymous = sorted({i.visitor_id for _, i in valid if i.email is None and i.visitor_id})
    by_visitor = await VisitorRepository(session).leads_of(anonymous, seen_at=now)
    unknown = {v for v in by_visitor.values() if v is not None and v not in emails}
    emails.update(await LeadRepository(session).emails_of(sorted(unknown)))
    leads: list[uuid.UUID | None] = [
        by_email[normalize_email(item.email)] if item.email is not None else by_visitor[item.visitor_id or ""]
        for _, item in valid
    ]
    # Every event of a lead carries the same email: sealed once per lead for the whole batch (its
    # key issued and staged ahead of the events if the lead has none), not once per event.
    seals = await sealed_fields(
        session,
        {lead_id: {"email": emails[lead_id]} for lead_id in leads if lead_id is not None and emails[lead_id]},
    )
    rows = ActivityRows()
    staged: list[ActivityRecorded] = []
    for (index, item), lead_id in zip(valid, leads, strict=True):
        kind, properties = activity_properties(item)
        occurred_at = item.occurred_at or now
        event_id: uuid.UUID | None = None
        if lead_id is not None:
            event = _activity_event(
                lead_id=lead_id,
                email=emails[lead_id],
                kind=kind,
                occurred_at=occurred_at,
                properties=properties,
                visitor_id=item.visitor_id,
                source=source_id,
                stitched=False,
                caused_by=None,
                sealed=seals.get(lead_id),
            )
            staged.append(event)
            event_id = event.event_id
        rows.append(
            visitor_id=item.visitor_id,
            lead_id=lead_id,
            kind=kind,
            occurred_at=occurred_at,
            properties=properties,
            event_id=event_id,
        )
        results.append({"index": index, "status": "accepted", "lead_id": lead_id, "event_id": event_id})
    # The activities and their events in one statement, not two per item.
    await ActivityRepository(session).add_many(rows, source_id=source_id, received_at=now, events=staged)
    results.sort(key=lambda r: int(r["index"]))
    accepted = sum(1 for r in results if r["status"] == "accepted")
    return ActivityBatchResult.model_validate(
        {"accepted": accepted, "rejected": len(results) - accepted, "results": results}
    )


async def stitch_visitor(
    session: AsyncSession,
    *,
    visitor_id: str,
    lead_id: uuid.UUID,
    email: str,
    decision: str,
    caused_by: Envelope | None,
) -> int:
    """Link the visitor to the lead (unless already linked to someone else) and publish the
    visitor's anonymous activities as the lead's. Returns how many were stitched."""
    now = utc_now()
    linked = await VisitorRepository(session).link(visitor_id, lead_id, decision=decision, at=now)
    if linked != lead_id:
        return 0
    claimed = await ActivityRepository(session).claim_anonymous(visitor_id, lead_id)
    events = []
    for row in claimed:
        assert row.event_id is not None
        events.append(
            _activity_event(
                lead_id=lead_id,
                email=email,
                kind=row.type,
                occurred_at=row.occurred_at,
                properties=row.properties,
                visitor_id=visitor_id,
                source=row.source_id,
                stitched=True,
                caused_by=caused_by,
                event_id=row.event_id,
            )
        )
    await add_events(session, outbox, await sealed(session, events))
    return len(claimed)


def _activity_event(
    *,
    lead_id: uuid.UUID,
    email: str,
    kind: str,
    occurred_at: datetime,
    properties: dict[str, str],
    visitor_id: str | None,
    source: str,
    stitched: bool,
    caused_by: Envelope | None,
    event_id: uuid.UUID | None = None,
    sealed: str | None = None,
) -> ActivityRecorded:
    """The activity's event; with `sealed` (its email sealed with the lead's key), as
    `shared.sealing.seal_event` would have sealed it, without building it twice."""
    payload = ActivityRecordedPayload(
        activity_type=kind,
        occurred_at=occurred_at,
        email=_SEALED_EMAIL if sealed is not None else email,
        source=source,
        visitor_id=visitor_id,
        properties=properties,
        stitched=stitched,
        sealed=sealed,
    )
    # A stored activity's id is its event's, so the row and the event name each other.
    return ActivityRecorded.new(
        lead_id=lead_id, payload=payload, producer=PRODUCER, caused_by=caused_by, event_id=event_id
    )
