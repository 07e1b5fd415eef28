"""Both teams' scorecards against the agreement feedback learned from `rubric.activated`, and the
measured planning rates with their Wilson intervals, read over feedback's API."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.feedback.consumers import build_handlers
from services.feedback.main import create_app
from shared.auth import Role
from shared.contracts import (
    NO_LEAD,
    AgreementTerms,
    AnyEvent,
    LeadTouched,
    LeadTouchedPayload,
    RubricActivated,
    RubricActivatedPayload,
    TierCommitment,
    utc_now,
)
from shared.contracts.events import TouchChannel
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.integration.test_feedback_facts import Journey
from tests.support.apps import running_app

HANDLERS = build_handlers()
MIN = timedelta(minutes=1)


def touched(lead: Journey, at: datetime, channel: TouchChannel) -> LeadTouched:
    payload = LeadTouchedPayload(
        assignment_id=lead.assignment_id, rep_id=lead.rep_id, channel=channel, touched_at=at
    )
    return LeadTouched.new(lead_id=lead.lead_id, payload=payload, producer="routing")


async def test_the_scorecards_report_against_the_signed_numbers(db: Database, settings_env: Infra) -> None:
    now = utc_now()
    today = now.date()
    terms = AgreementTerms(
        period_start=today - timedelta(days=9),
        period_end=today + timedelta(days=20),
        mql_commitment=30,
        acceptance_commitment=0.6,
        tiers=[
            TierCommitment(
                grade="A",
                tier="hot",
                first_touch_minutes=15,
                accept_minutes=30,
                contact_minutes=60,
                min_attempts=2,
            )
        ],
    )
    activation = RubricActivated.new(
        lead_id=NO_LEAD,
        producer="scoring",
        payload=RubricActivatedPayload(rubric_version="plan-1", activated_at=now, agreement=terms),
    )
    kept, dropped = Journey(), Journey()
    start = now - timedelta(days=2)
    events: list[AnyEvent] = [activation]
    for lead in (kept, dropped):
        events += [lead.ingested(start), lead.qualified(start), lead.assigned(start)]
    events += [
        kept.dispositioned(start + 5 * MIN, "accepted"),
        touched(kept, start + 20 * MIN, "call"),
        touched(kept, start + 180 * MIN, "email"),
        dropped.dispositioned(start + 2 * MIN, "rejected", reason="student"),
    ]
    # The touches again, as a replay would bring them: an attempt is counted once.
    for event in [*events, *(e for e in events if isinstance(e, LeadTouched))]:
        async with db.transaction() as session:
            await HANDLERS[event.event_type](session, event)

    async with running_app(create_app(), consume=False) as client:
        cards = await client.get("/v1/agreement/scorecards", headers=bearer(Role.SALES))
        rates = await client.get("/v1/agreement/planning-rates", headers=bearer(Role.MARKETING))

    assert cards.status_code == 200, cards.text
    body = cards.json()
    assert body["agreement_version"] == "plan-1"
    marketing = body["marketing"]
    assert (marketing["delivered"], marketing["commitment"]) == (2, 30)
    assert (marketing["acceptance_rate"], marketing["acceptance_commitment"]) == (0.5, 0.6)
    # Two MQLs in the first tenth of thirty days: about six by the end, far short of thirty.
    assert marketing["pace"] == "at_risk"
    (hot,) = body["sales"]
    assert hot["tier"] == "hot"
    assert (hot["accept"]["within"], hot["accept"]["measured"], hot["accept"]["p50"]) == (2, 2, 3.5)
    # The click to accept is no contact: the rejected lead was never called, and its hour is up.
    assert (hot["contact"]["within"], hot["contact"]["measured"], hot["contact"]["p50"]) == (1, 2, 20.0)
    # Owed before a lead is dropped: the rejected lead had none; the kept one (two attempts, each
    # counted once however often it arrives) is still worked.
    assert (hot["attempts"]["within"], hot["attempts"]["measured"], hot["attempts"]["pending"]) == (0, 1, 1)
    assert hot["attempts"]["p50"] == 1.0
    assert sum(week["marketing"]["delivered"] for week in body["weeks"]) == 2

    assert rates.status_code == 200, rates.text
    by_name = {r["name"]: r for r in rates.json()["rates"]}
    assert (by_name["mql_to_sal"]["reached"], by_name["mql_to_sal"]["started"]) == (1, 2)
    assert by_name["mql_to_sal"]["low"] < 0.5 < by_name["mql_to_sal"]["high"]
    assert (by_name["sql_to_won"]["started"], by_name["sql_to_won"]["low"]) == (0, None)
