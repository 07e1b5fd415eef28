"""Money done right: won deals in EUR and USD are reported in the reporting currency with the
rates used shown, and never added as they stand; a currency without a rate is a clear 422."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.feedback import service
from services.feedback.consumers import build_handlers
from services.feedback.main import create_app
from services.feedback.money import Fx
from services.feedback.repository import FactFilter
from services.feedback.revenue_repository import RevenueRepository
from services.feedback.settings import FeedbackSettings
from shared.auth import Role
from shared.contracts import (
    Envelope,
    LeadDispositioned,
    LeadDispositionedPayload,
    LeadIngested,
    LeadIngestedPayload,
)
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.apps import running_app

HANDLERS = build_handlers()
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
EUR_PER_USD = Decimal("0.90")


def won_deal(source: str, amount: str, currency: str) -> list[Envelope]:
    lead_id = uuid.uuid4()
    ingested = LeadIngested.new(
        lead_id=lead_id,
        producer="ingest",
        occurred_at=T0,
        payload=LeadIngestedPayload(
            source="form", email=f"{lead_id}@acme.io", submitted_at=T0, utm={"source": source}
        ),
    )
    won = LeadDispositioned.new(
        lead_id=lead_id,
        producer="routing",
        payload=LeadDispositionedPayload(
            assignment_id=uuid.uuid4(),
            rep_id=uuid.uuid4(),
            outcome="won",
            amount=Decimal(amount),
            currency=currency,
            dispositioned_at=T0 + timedelta(days=20),
        ),
    )
    return [ingested, won]


async def history(db: Database) -> None:
    for event in [*won_deal("google", "1000", "EUR"), *won_deal("linkedin", "1000", "USD")]:
        async with db.transaction() as session:
            await HANDLERS[event.event_type](session, event)


async def test_eur_and_usd_wins_are_reported_in_the_reporting_currency_with_the_rates(db: Database) -> None:
    await history(db)
    async with db.transaction() as session:
        report = await service.revenue_attribution(
            session, FactFilter(), by="source", fx=Fx("EUR", {"USD": EUR_PER_USD})
        )
    # 1000 EUR + 1000 USD at 0.90 = 1900 EUR, not 2000 of nothing in particular.
    assert (report.currency, report.revenue) == ("EUR", Decimal("1900.00"))
    assert report.rates == {"EUR": Decimal(1), "USD": EUR_PER_USD}
    assert {r.key: r.first_touch for r in report.rows} == {
        "google": Decimal(1000),
        "linkedin": Decimal("900.00"),
    }


async def test_the_reverse_funnels_deal_size_sums_per_currency_then_converts(db: Database) -> None:
    await history(db)
    async with db.transaction() as session:
        won = await RevenueRepository(session).won_revenue(FactFilter(), fx=Fx("EUR", {"USD": EUR_PER_USD}))
    assert (won.deals, won.deals_with_amount, won.revenue) == (2, 2, Decimal("1900.00"))
    assert won.rates_used == {"EUR": Decimal(1), "USD": EUR_PER_USD}


async def test_reporting_in_usd_converts_the_other_way(db: Database) -> None:
    await history(db)
    async with db.transaction() as session:
        report = await service.revenue_attribution(
            session, FactFilter(), by="source", fx=Fx("USD", {"EUR": Decimal("1.10")})
        )
    assert (report.currency, report.revenue) == ("USD", Decimal("2100.00"))


async def test_the_api_says_which_rates_it_used_and_refuses_a_currency_without_one(
    db: Database, settings_env: Infra
) -> None:
    await history(db)
    manager = bearer(Role.MANAGER)
    configured = FeedbackSettings(reporting_currency="EUR", fx_rates={"USD": EUR_PER_USD})
    async with running_app(create_app(configured), consume=False) as client:
        revenue = await client.get("/v1/reports/attribution", headers=manager)
    async with running_app(create_app(FeedbackSettings(reporting_currency="EUR")), consume=False) as client:
        unpriced = await client.get("/v1/reports/attribution", headers=manager)

    assert revenue.status_code == 200, revenue.text
    body = revenue.json()
    assert (body["currency"], body["revenue"], body["fx_rates"]) == ("EUR", 1900.0, {"EUR": 1.0, "USD": 0.9})
    assert unpriced.status_code == 422, unpriced.text
    assert unpriced.headers["content-type"].startswith("application/problem+json")
    assert unpriced.json()["currency"] == "USD"
    assert "BATON_FX_RATES" in unpriced.json()["detail"]
