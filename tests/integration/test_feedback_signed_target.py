"""Feedback learns the signed agreement from `rubric.activated`: marketing's monthly MQL target
is the commitment both teams signed (derived from sales' revenue goal), not a setting."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from services.feedback import service
from services.feedback.consumers import build_handlers
from services.feedback.main import create_app
from services.feedback.repository import FactFilter
from services.feedback.settings import FeedbackSettings
from shared.auth import Role
from shared.contracts import (
    NO_LEAD,
    AgreementTerms,
    LeadAssigned,
    LeadAssignedPayload,
    LeadDispositioned,
    LeadDispositionedPayload,
    LeadTouched,
    LeadTouchedPayload,
    RubricActivated,
    RubricActivatedPayload,
    utc_now,
)
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.apps import running_app

HANDLERS = build_handlers()


def activation(version: str, mql_commitment: int) -> RubricActivated:
    terms = AgreementTerms(
        period_start=date(2027, 1, 1),
        period_end=date(2027, 3, 31),
        revenue_goal=Decimal(1_200_000),
        currency="EUR",
        mql_commitment=mql_commitment,
        acceptance_commitment=0.6,
    )
    return RubricActivated.new(
        lead_id=NO_LEAD,
        producer="scoring",
        payload=RubricActivatedPayload(rubric_version=version, activated_at=utc_now(), agreement=terms),
    )


async def test_the_mql_target_is_the_signed_commitment_over_its_period(
    db: Database, settings_env: Infra
) -> None:
    async with running_app(create_app(FeedbackSettings(mql_monthly_target=7)), consume=False) as client:
        before = (await client.get("/v1/sla/mql-delivery", headers=bearer(Role.MARKETING))).json()
        for event in (activation("2027.q1", 400), activation("2027.q1", 999)):  # the replay changes nothing
            async with db.transaction() as session:
                await HANDLERS[event.event_type](session, event)
        after = (await client.get("/v1/sla/mql-delivery", headers=bearer(Role.MARKETING))).json()

    assert (before["monthly_target"], before["agreement_version"]) == (7, None)
    # 400 MQLs over January to March: 134 a month, rounded up.
    assert (after["monthly_target"], after["agreement_version"]) == (134, "2027.q1")
    assert after["acceptance_commitment"] == 0.6


async def test_speed_to_lead_measures_contact_not_clicks(db: Database) -> None:
    lead_id, assignment_id, rep_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    t0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)

    def at(minutes: int) -> datetime:
        return t0 + timedelta(minutes=minutes)

    events = [
        LeadAssigned.new(
            lead_id=lead_id,
            producer="routing",
            payload=LeadAssignedPayload(
                assignment_id=assignment_id,
                rep_id=rep_id,
                rep_name="Sam",
                strategy="round_robin",
                sla_tier="A",
                sla_due_at=at(5),
                assigned_at=at(0),
                qualified_at=at(0),
            ),
        ),
        LeadDispositioned.new(
            lead_id=lead_id,
            producer="routing",
            payload=LeadDispositionedPayload(
                assignment_id=assignment_id, rep_id=rep_id, outcome="accepted", dispositioned_at=at(1)
            ),
        ),
        *(
            LeadTouched.new(
                lead_id=lead_id,
                producer="routing",
                payload=LeadTouchedPayload(
                    assignment_id=assignment_id, rep_id=rep_id, channel=channel, touched_at=at(minutes)
                ),
            )
            for channel, minutes in (("social", 10), ("call", 30), ("email", 40))
        ),
    ]
    for event in events:
        async with db.transaction() as session:
            await HANDLERS[event.event_type](session, event)
    async with db.transaction() as session:
        (speed,) = await service.speed_to_lead(session, FactFilter(), by=None)
    assert (speed.human_n, speed.human_p50_s) == (1, 60.0)  # the click to accept, as before
    assert (speed.contact_n, speed.contact_p50_s) == (1, 1800.0)  # the call, 30 minutes in
