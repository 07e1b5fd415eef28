"""Feedback learns the signed agreement from `rubric.activated`: marketing's monthly MQL target
is the commitment both teams signed (derived from sales' revenue goal), not a setting."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.feedback.consumers import build_handlers
from services.feedback.main import create_app
from services.feedback.settings import FeedbackSettings
from shared.auth import Role
from shared.contracts import NO_LEAD, AgreementTerms, RubricActivated, RubricActivatedPayload, utc_now
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
