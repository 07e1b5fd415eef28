"""Signing the agreement in headless Chromium, on scoring's page at `/agreement`: a draft with a
revenue goal shows marketing's MQL commitment derived from the planning rates, its diff, its
backtest and feedback's evidence; marketing approves with its token, sales approves with its own
and activates; feedback learns the version from `rubric.activated` and its scorecards report
against the new numbers, with pace. Chromium is the system's (`scripts/ensure-chromium`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from services.feedback import agreement as feedback_agreement
from services.feedback.main import create_app as create_feedback_app
from services.feedback.settings import FeedbackSettings
from services.scoring.main import create_app
from services.scoring.settings import ScoringSettings
from shared.auth import Role
from shared.contracts import AnyEvent, utc_now
from shared.db import Database
from tests.conftest import Infra, bearer, truncate_all
from tests.integration.test_feedback_facts import Journey
from tests.integration.test_feedback_scorecards import HANDLERS
from tests.integration.test_scoring_signed_agreement import agreement
from tests.support.apps import caught_up
from tests.support.browser import CHROMIUM_ARGS, chromium, serving
from tests.support.waiting import eventually
from tests.unit.test_scoring_agreement_terms import PLAN

MARKETING, SALES = bearer(Role.MARKETING), bearer(Role.SALES)
VERSION = "2027.plan"


def token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def open_page(page: Page, base_url: str, headers: dict[str, str]) -> dict[str, str]:
    """The page loaded with this signer's token; every figure it shows, by its `data-metric`."""
    await page.goto(f"{base_url}/agreement#token={token(headers)}")
    await wait_for(page, "document.getElementById('status').textContent.startsWith('loaded')")
    return await shown(page)


async def shown(page: Page) -> dict[str, str]:
    metrics: dict[str, str] = await page.eval_on_selector_all(
        "[data-metric]", "cells => Object.fromEntries(cells.map(c => [c.dataset.metric, c.textContent]))"
    )
    return metrics


async def wait_for(page: Page, condition: str) -> None:
    try:
        await page.wait_for_function(condition, timeout=30_000)
    except PlaywrightTimeout:
        pytest.fail(f"the page never got there ({condition}): {await page.text_content('#status')!r}")


async def mqls_this_period(db: Database, n: int) -> None:
    """`n` MQLs two days ago, as feedback would have folded them from the topics."""
    start = utc_now() - timedelta(days=2)
    events: list[AnyEvent] = []
    for _ in range(n):
        lead = Journey()
        events += [lead.ingested(start), lead.qualified(start), lead.assigned(start, tier="A")]
    for event in events:
        async with db.transaction() as session:
            await HANDLERS[event.event_type](session, event)


async def test_both_teams_sign_in_the_browser_and_the_scorecards_switch_to_the_new_numbers(
    db: Database, settings_env: Infra
) -> None:
    executable = chromium()
    problems: list[str] = []
    today = utc_now().date()
    # A month around today, so the scorecards have days behind them to forecast from.
    plan = {
        **PLAN,
        "period_start": str(today - timedelta(days=14)),
        "period_end": str(today + timedelta(days=15)),
    }
    feedback = create_feedback_app()
    async with serving(feedback) as feedback_url:
        scoring = create_app(ScoringSettings(dashboard_url=feedback_url))
        async with serving(scoring) as base_url:
            # The broker outlives this test: let the consumers work through earlier tests' events first.
            await caught_up(feedback)
            await caught_up(scoring)
            await truncate_all(db)
            await mqls_this_period(db, 3)
            async with httpx.AsyncClient(base_url=base_url) as client:
                created = await client.post(
                    "/v1/rubrics", json=agreement(VERSION, plan=plan), headers=MARKETING
                )
                assert created.status_code == 201, created.text

            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                try:
                    marketing = await browser.new_page(viewport={"width": 1400, "height": 1000})
                    marketing.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                    marketing.on("pageerror", lambda error: problems.append(f"page error: {error}"))
                    before = await open_page(marketing, base_url, MARKETING)
                    await marketing.click("#approve")
                    await wait_for(
                        marketing,
                        "document.getElementById('status').textContent === 'approved for your team'",
                    )
                    after_marketing = await shown(marketing)

                    sales = await browser.new_page(viewport={"width": 1400, "height": 1000})
                    sales.on("pageerror", lambda error: problems.append(f"page error: {error}"))
                    await open_page(sales, base_url, SALES)
                    await sales.click("#approve")
                    await wait_for(sales, "!document.getElementById('activate').disabled")
                    await sales.click("#activate")
                    await wait_for(
                        sales, f"document.getElementById('status').textContent === '{VERSION} is active'"
                    )
                    # Feedback learns the version from `rubric.activated`; the page re-reads its scorecards.
                    await wait_for(
                        sales,
                        "document.querySelector('[data-metric=\"scorecards.version\"]').textContent === "
                        f"'{VERSION}'",
                    )
                    live = await shown(sales)
                finally:
                    await browser.close()

            async with httpx.AsyncClient(base_url=feedback_url) as client:
                cards = (await client.get("/v1/agreement/scorecards", headers=SALES)).json()

    assert problems == []
    # Goal 1,200,000 EUR at 30,000 a deal: 40 deals; at 25 % SQL→won 160 SQLs; at 40 % MQL→SQL 400 MQLs.
    assert (before["plan.mql_commitment"], before["plan.won_deals_needed"]) == ("400", "40")
    assert before["plan.acceptance_commitment"] == "60.0 %"
    assert before["diff.section.plan"] == "changed"
    assert "backtest.draft.mqls" in before
    assert before["rates.mql_to_sql.planned"] == "40.0 %"
    assert before["scorecards.version"] == "none signed"
    assert before["missing"] == "waiting for marketing and sales"
    assert after_marketing["approvals"] == "marketing: test-marketing"
    assert after_marketing["missing"] == "waiting for sales"

    assert live["draft.status"] == "active"
    assert live["marketing.commitment"] == "400"
    assert live["marketing.delivered"] == "3"
    # Three MQLs in half the period: about six by its end, far short of 400.
    assert live["marketing.pace"] == "at risk"
    assert live["marketing.acceptance_commitment"] == "60.0 %"
    marketing_card: dict[str, Any] = cards["marketing"]
    assert cards["agreement_version"] == VERSION
    assert (marketing_card["commitment"], marketing_card["pace"]) == (400, "at_risk")
    assert marketing_card["forecast"] is not None
    tiers = {t["tier"]: t for t in cards["sales"]}
    assert tiers["A"]["contact"]["commitment"] == 60
    assert tiers["A"]["leads"] == 3


async def test_the_draft_scoring_opened_from_a_drift_proposal_shows_the_rederived_commitment(
    db: Database, settings_env: Infra
) -> None:
    executable = chromium()
    problems: list[str] = []
    today = utc_now().date()
    plan = {
        **PLAN,
        "period_start": str(today - timedelta(days=14)),
        "period_end": str(today + timedelta(days=15)),
    }
    # No drift loop: the check runs once the whole funnel is in, since scoring drafts the proposal
    # as it was first opened (a loop could open it halfway through the funnel).
    feedback = create_feedback_app(FeedbackSettings(drift_check_interval_s=0))
    async with serving(feedback) as feedback_url:
        scoring = create_app(ScoringSettings(dashboard_url=feedback_url))
        async with serving(scoring) as base_url:
            await caught_up(feedback)
            await caught_up(scoring)
            await truncate_all(db)
            async with httpx.AsyncClient(base_url=base_url) as client:
                await client.post("/v1/rubrics", json=agreement(VERSION, plan=plan), headers=MARKETING)
                await client.post(f"/v1/rubrics/{VERSION}/approvals", headers=MARKETING)
                await client.post(f"/v1/rubrics/{VERSION}/approvals", headers=SALES)
                activated = await client.post(f"/v1/rubrics/{VERSION}/activate", headers=SALES)
                assert activated.status_code == 200, activated.text
            # Feedback learns the plan, then measures one MQL in five reaching SQL (planned: 31-45 %).
            async with httpx.AsyncClient(base_url=feedback_url, headers=SALES) as client:

                async def signed() -> None:
                    cards = (await client.get("/v1/agreement/scorecards")).json()
                    assert cards["agreement_version"] == VERSION

                await eventually(signed, timeout_s=30)
                await one_mql_in_five_reaches_sql(db)
                async with db.transaction() as session:
                    await feedback_agreement.check_drift(session, min_leads=5, now=utc_now())

                async def proposed() -> None:
                    assert (await client.get("/v1/agreement/proposals")).json()["proposals"]

                await eventually(proposed, timeout_s=30)
            # Scoring opens the proposal as a draft by itself (`revision.proposed`).
            async with httpx.AsyncClient(base_url=base_url, headers=MARKETING) as client:

                async def drafted() -> None:
                    versions = (await client.get("/v1/rubrics")).json()
                    assert any(v["status"] == "draft" for v in versions), "no drift draft yet"

                await eventually(drafted, timeout_s=60)

            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                try:
                    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
                    before = await open_page(page, base_url, MARKETING)
                    # The drift panel links to the draft; it loads like any other.
                    await page.click("#drift-draft")
                    await wait_for(
                        page,
                        "new URLSearchParams(location.search).get('version') !== null && "
                        "document.getElementById('status').textContent.startsWith('loaded')",
                    )
                    drafted = await shown(page)
                finally:
                    await browser.close()

    assert problems == []
    assert (before["drift.mql_commitment_before"], before["drift.mql_commitment_after"]) == ("400", "800")
    assert before["drift.mql_to_sql.measured"].startswith("20.0 %")
    assert drafted["draft.status"] == "draft"
    assert drafted["draft.version"].startswith(f"{VERSION}-drift-")
    assert drafted["draft.version"] == before["drift.draft"]
    assert drafted["draft.written_by"] == "feedback:drift-check"
    # Scoring derives the commitment of the draft itself: the same 800.
    assert drafted["plan.mql_commitment"] == "800"
    assert drafted["missing"] == "waiting for marketing and sales"


async def one_mql_in_five_reaches_sql(db: Database) -> None:
    start = utc_now() - timedelta(days=2)
    events: list[AnyEvent] = []
    for i in range(10):
        lead = Journey()
        events += [lead.ingested(start), lead.qualified(start)]
        if i < 2:
            events.append(lead.dispositioned(start + timedelta(days=1), "sql"))
    for event in events:
        async with db.transaction() as session:
            await HANDLERS[event.event_type](session, event)
