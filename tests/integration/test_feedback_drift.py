"""Drift proposals: when a measured rate leaves the interval the agreement in force was planned
with, feedback's loop keeps one open proposal of revised rates and a re-derived MQL commitment,
listed at `GET /v1/agreement/proposals` and, once opened, staged as `revision.proposed`; a newly
signed agreement supersedes it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from services.feedback import agreement
from services.feedback.main import create_app
from services.feedback.models import outbox
from services.feedback.settings import FeedbackSettings
from shared.auth import Role
from shared.contracts import (
    NO_LEAD,
    AgreementTerms,
    AnyEvent,
    PlannedRate,
    RubricActivated,
    RubricActivatedPayload,
    decode_event,
    utc_now,
)
from shared.contracts.revisions import AgreementRevisionProposed
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.integration.test_feedback_facts import Journey
from tests.integration.test_feedback_scorecards import HANDLERS
from tests.support.apps import running_app
from tests.support.waiting import eventually

MQL_TO_SQL = PlannedRate(rate=0.4, low=0.31, high=0.45)


def activation(version: str, mql_to_sql: PlannedRate) -> RubricActivated:
    today = utc_now().date()
    terms = AgreementTerms(
        period_start=today - timedelta(days=10),
        period_end=today + timedelta(days=20),
        revenue_goal=Decimal(1_200_000),
        average_deal_size=Decimal(30_000),
        currency="EUR",
        mql_commitment=400,
        acceptance_commitment=0.6,
        planning_rates={"mql_to_sql": mql_to_sql, "sql_to_won": PlannedRate(rate=0.25)},
    )
    payload = RubricActivatedPayload(rubric_version=version, activated_at=utc_now(), agreement=terms)
    return RubricActivated.new(lead_id=NO_LEAD, producer="scoring", payload=payload)


async def fold(db: Database, events: list[AnyEvent]) -> None:
    for event in events:
        async with db.transaction() as session:
            await HANDLERS[event.event_type](session, event)


async def a_funnel_converting_one_mql_in_five(db: Database) -> None:
    start = utc_now() - timedelta(days=3)
    events: list[AnyEvent] = []
    for i in range(10):
        lead = Journey()
        events += [lead.ingested(start), lead.qualified(start)]
        if i < 2:
            events.append(lead.dispositioned(start + timedelta(days=1), "sql"))
    await fold(db, events)


async def test_a_rate_below_its_planned_interval_opens_one_proposal(
    db: Database, settings_env: Infra
) -> None:
    await fold(db, [activation("plan-1", MQL_TO_SQL)])
    await a_funnel_converting_one_mql_in_five(db)
    settings = FeedbackSettings(drift_min_leads=5, drift_check_interval_s=0.2)

    async with running_app(create_app(settings), consume=False) as client:

        async def proposed() -> None:
            response = await client.get("/v1/agreement/proposals", headers=bearer(Role.MARKETING))
            assert response.json()["proposals"], "no proposal yet"

        await eventually(proposed, timeout_s=30)
        listed = await client.get("/v1/agreement/proposals", headers=bearer(Role.MARKETING))
        # Further checks update the open proposal; they never open a second.
        async with db.transaction() as session:
            again = await agreement.check_drift(session, min_leads=5, now=utc_now())
        after = (await client.get("/v1/agreement/proposals", headers=bearer(Role.SALES))).json()
        async with db.transaction() as session:
            # Only opening a proposal tells scoring (`revision.proposed`); an update does not.
            staged = await session.scalars(
                select(outbox.c.value).where(outbox.c.event_type == "revision.proposed")
            )
            events = [decode_event(value) for value in staged]

    (proposal,) = listed.json()["proposals"]
    assert (proposal["agreement_version"], proposal["status"]) == ("plan-1", "open")
    (drift,) = proposal["drifted"]
    assert (drift["name"], drift["planned"], drift["measured"]) == ("mql_to_sql", 0.4, 0.2)
    assert (drift["reached"], drift["started"]) == (2, 10)
    assert proposal["rates"]["mql_to_sql"]["rate"] == 0.2
    # 40 deals, 160 SQLs, at the measured 20 %: 800 MQLs instead of 400.
    assert (proposal["mql_commitment_before"], proposal["mql_commitment_after"]) == (400, 800)
    assert again is not None
    assert str(again.id) == proposal["id"]
    assert [p["id"] for p in after["proposals"]] == [proposal["id"]]
    (event,) = events
    assert isinstance(event, AgreementRevisionProposed)
    assert (str(event.payload.proposal_id), event.payload.agreement_version) == (proposal["id"], "plan-1")
    assert (event.payload.mql_commitment_before, event.payload.mql_commitment_after) == (400, 800)
    assert event.payload.rates["mql_to_sql"].rate == 0.2


async def test_signing_the_revised_rates_supersedes_the_proposal(db: Database, settings_env: Infra) -> None:
    await fold(db, [activation("plan-1", MQL_TO_SQL)])
    await a_funnel_converting_one_mql_in_five(db)
    async with db.transaction() as session:
        opened = await agreement.check_drift(session, min_leads=5, now=utc_now())
    await fold(db, [activation("plan-2", PlannedRate(rate=0.2, low=0.06, high=0.51))])
    async with db.transaction() as session:
        current = await agreement.check_drift(session, min_leads=5, now=utc_now())
        (closed,) = await agreement.drift_proposals(session)

    assert opened is not None
    assert current is None
    assert (closed.id, closed.status) == (opened.id, "superseded")
