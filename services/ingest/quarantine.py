"""The quarantine: nothing lost to a mapping or a type.

A delivery that passed its platform's authentication but could not be mapped to a lead is kept
whole (raw body, the request parameters its parser reads, the reason) and answered 2xx, so the
platform stops retrying a failure that a retry cannot fix. Once the mapping is fixed, a replay
runs the provider's parser again over the stored body and hands the lead to the one intake use
case, keyed by the platform's lead id: however often it is replayed, one `lead.ingested`.
For Meta and LinkedIn, whose lead is fetched, the stored body is what was fetched
(`fetched_leads.py`), so a replay asks the platform nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.errors import QuarantinedDeliveryNotFound, ReplayNotSupported, WebhookPayloadInvalid
from services.ingest.models import QuarantinedDelivery, audit
from services.ingest.platform_leads import FieldMap, Parser, prepare_platform_lead
from services.ingest.providers import PayloadInvalid
from services.ingest.quarantine_repository import QuarantineRepository
from services.ingest.schemas import QuarantinedDeliveryRead, QuarantineReplayed
from services.ingest.service import Intake
from services.ingest.webhooks import field_maps
from shared.audit import record_change
from shared.contracts import utc_now

QUARANTINED = Counter(
    "baton_ingest_quarantined_total",
    "Authenticated deliveries that could not be mapped to a lead, kept for replay.",
    ["source", "reason"],
)


async def quarantine_delivery(
    session: AsyncSession,
    *,
    source: str,
    body: bytes,
    params: Mapping[str, str],
    problem: WebhookPayloadInvalid,
) -> uuid.UUID:
    """Keep the delivery whole with why it could not be mapped; returns its quarantine id."""
    reason = str(problem.extensions.get("reason", "unmappable"))
    detail = {"detail": problem.detail, "errors": problem.extensions.get("errors", [])}
    delivery = QuarantinedDelivery(
        id=uuid.uuid4(),
        source=source,
        reason=reason,
        detail=detail,
        body=body,
        params=dict(params),
        received_at=utc_now(),
    )
    await QuarantineRepository(session).add(delivery)
    QUARANTINED.labels(source, reason).inc()
    return delivery.id


async def list_quarantined(
    session: AsyncSession, *, pending_only: bool = True, limit: int = 100
) -> list[QuarantinedDeliveryRead]:
    """The newest quarantined deliveries first; `pending_only` leaves out those replayed."""
    rows = await QuarantineRepository(session).newest(pending_only=pending_only, limit=limit)
    return [QuarantinedDeliveryRead.model_validate(row) for row in rows]


async def replay_delivery(
    session: AsyncSession,
    intake: Intake,
    *,
    delivery_id: uuid.UUID,
    parsers: Mapping[str, Parser],
    field_map: Mapping[str, str] | None = None,
    actor: str,
) -> QuarantineReplayed:
    """Map the stored delivery again (with `field_map` on top of the provider's mapping and of
    the field maps configured for it since) and accept its lead. A delivery replayed before
    changes nothing and says so; one that still cannot be mapped stays quarantined and is
    answered 422 with why."""
    repository = QuarantineRepository(session)
    delivery = await repository.locked(delivery_id)
    if delivery is None:
        raise QuarantinedDeliveryNotFound(f"no quarantined delivery {delivery_id}")
    if delivery.replayed_at is not None:
        assert delivery.lead_id is not None
        assert delivery.event_id is not None
        return QuarantineReplayed(
            id=delivery.id, status="already_replayed", lead_id=delivery.lead_id, event_id=delivery.event_id
        )
    parse = parsers.get(delivery.source)
    if parse is None:
        raise ReplayNotSupported(f"{delivery.source} deliveries are not replayed from the quarantine yet")
    try:
        lead = parse(delivery.body, delivery.params)
    except PayloadInvalid as exc:
        raise WebhookPayloadInvalid(str(exc), reason="unmappable") from exc
    configured = await field_maps(intake, delivery.source, lead.form_id)
    mapping = FieldMap({**configured.fields, **(field_map or {})}, configured.utm_fields)
    [accepted] = await intake.submit_all([prepare_platform_lead(delivery.source, lead, field_map=mapping)])
    answer = accepted.answer
    await repository.mark_replayed(
        delivery.id, at=utc_now(), lead_id=answer.lead_id, event_id=answer.event_id
    )
    await record_change(  # ids and the field map only: the delivery's body holds the lead's data
        session,
        audit,
        actor=actor,
        action="quarantine.replayed",
        object_type="quarantined_delivery",
        object_id=str(delivery.id),
        before={"status": "quarantined"},
        after={"status": "replayed", "lead_id": answer.lead_id, "field_map": dict(field_map or {})},
    )
    return QuarantineReplayed(
        id=delivery.id, status="replayed", lead_id=answer.lead_id, event_id=answer.event_id
    )
