"""The rep's inbox in headless Chromium, served by routing on a real uvicorn port: a rep sees
their new lead with its brief and works it to `sql` by clicking (accept, log a touch, record the
outcome); `lead.dispositioned` leaves routing and feedback's funnel counts the SQL. A manager
sees the team's leads. A rep declines a lead and rejects another with a reason code. Chromium is
the system's (`scripts/ensure-chromium`)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from aiokafka import ConsumerRecord
from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select, text

from services.feedback.main import create_app as create_feedback_app
from services.routing import briefs
from services.routing.main import create_app
from services.routing.models import Assignment, Disposition
from services.routing.pages import ASSETS
from shared.auth import Role
from shared.contracts import LeadDispositioned, decode_event
from shared.db import Database
from tests.conftest import Infra, bearer, truncate_all
from tests.support.apps import running_app
from tests.support.briefs import form_filled, scored, visited
from tests.support.browser import CHROMIUM_ARGS, chromium, headless_chromium, serving
from tests.support.events import publish, read_topic
from tests.support.routing import add_rep, assign, qualified_for_rules
from tests.support.waiting import eventually

MANAGER = bearer(Role.MANAGER)


def token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def briefed_lead(db: Database, **lead: Any) -> Assignment:
    """A lead qualified, assigned and explained (rules, answers, a pricing-page visit)."""
    event = qualified_for_rules("A", first_name="Grace", last_name="Hopper", company="Analytical", **lead)
    assignment = await assign(db, event)
    async with db.transaction() as session:
        await briefs.record_score(session, event=scored(event.lead_id), hot_score_jump=20)
        await briefs.record_form(session, event=form_filled(event.lead_id))
        await briefs.record_activity(session, event=visited(event.lead_id))
    return assignment


async def open_inbox(browser: Browser, base_url: str, headers: dict[str, str], problems: list[str]) -> Page:
    """A new page on the inbox as the token's bearer sees it; its console errors go to `problems`."""
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    await page.goto(f"{base_url}/inbox#token={token(headers)}")
    try:
        await page.wait_for_function(
            "document.getElementById('status').textContent.includes('open lead')", timeout=20_000
        )
    except PlaywrightTimeout:
        pytest.fail(f"the inbox never loaded: {await page.text_content('#status')!r}")
    return page


async def status_of(db: Database, assignment_id: uuid.UUID) -> str:
    async with db.transaction() as session:
        status: str = await session.scalar(select(Assignment.status).where(Assignment.id == assignment_id))
    return status


async def test_a_rep_works_a_new_lead_to_sql_and_the_funnel_counts_it(
    db: Database, settings_env: Infra
) -> None:
    executable = chromium()
    problems: list[str] = []
    app = create_app()
    # Routing's consumer is not needed here (the lead is assigned through the use case); its relay
    # publishes what the clicks record.
    app.state.runtime.consume = False
    feedback = create_feedback_app()
    # Emptied before the apps start: routing's relay would otherwise publish what an earlier
    # test left in its outbox, and feedback would count those leads too.
    await truncate_all(db)
    async with running_app(feedback) as funnel, serving(app) as base_url:
        ada, bob = await add_rep(db, "ada"), await add_rep(db, "bob")
        assignment = await briefed_lead(db, job_title="CTO")
        rep = bearer(Role.REP, rep_id=assignment.rep_id)
        # Feedback learns of the lead as scoring would tell it, so its funnel has an MQL to convert.
        await publish(
            settings_env.kafka_bootstrap_servers, qualified_for_rules("A", lead_id=assignment.lead_id)
        )
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                page = await open_inbox(browser, base_url, rep, problems)
                lead = page.locator(f"article[data-lead='{assignment.lead_id}']")
                assert await lead.locator("h2").text_content() == "Grace Hopper, CTO at Analytical"
                why = await lead.locator("ul.why li").all_text_contents()
                assert why[0] == "Asked to talk to sales (+30)"
                assert "timeline" in await lead.locator("dl.answers").text_content()
                timeline = await lead.locator("ul.timeline li").all_text_contents()
                assert timeline[0].endswith("page_view /pricing (campaign spring-sale)")

                await lead.locator("button[data-action=accept]").click()
                await page.wait_for_function(
                    f"document.querySelector(\"article[data-lead='{assignment.lead_id}'] [data-field=status]\")"
                    ".textContent === 'accepted'"
                )
                touch = lead.locator("form[data-action=touch]")
                await touch.locator("select[name=channel]").select_option("call")
                await touch.locator("button[type=submit]").click()
                await eventually(lambda: _touched(base_url, rep, assignment.id), timeout_s=10)
                # The page re-renders the card once the touch is recorded; choosing an outcome
                # before that re-render would be undone by it.
                await page.wait_for_function(
                    f"document.querySelector(\"article[data-lead='{assignment.lead_id}'] p.meta\")"
                    ".textContent.includes('(touched)')"
                )
                outcome = lead.locator("form[data-action=disposition]")
                await outcome.locator("select[name=outcome]").select_option("sql")
                await outcome.locator("button[type=submit]").click()
                await page.wait_for_function(
                    f"document.querySelector(\"article[data-lead='{assignment.lead_id}'] [data-field=status]\")"
                    ".textContent === 'sql'"
                )

                # The manager sees the team's leads, the rep's among them.
                other = await briefed_lead(db, job_title="VP Sales")
                manager = await open_inbox(browser, base_url, MANAGER, problems)
                shown = await manager.locator("article").evaluate_all(
                    "items => items.map(a => a.dataset.lead)"
                )
                assert set(shown) == {str(assignment.lead_id), str(other.lead_id)}
            finally:
                await browser.close()

        assert await status_of(db, assignment.id) == "sql"
        records = await read_topic(
            settings_env.kafka_bootstrap_servers,
            "lead.dispositioned",
            until=lambda rs: len(_outcomes(rs, assignment.lead_id)) == 2,
        )
        assert _outcomes(records, assignment.lead_id) == [
            ("accepted", assignment.rep_id),
            ("sql", assignment.rep_id),
        ]

        async def counted() -> None:
            async with db.transaction() as session:
                sql_at = await session.scalar(
                    text("SELECT sql_at FROM feedback.lead_fact WHERE lead_id = :id"),
                    {"id": assignment.lead_id},
                )
            assert sql_at is not None, "feedback has not counted the lead as an SQL"
            response = await funnel.get("/v1/funnel", headers=MANAGER)
            stages = {s["stage"]: s["count"] for s in response.json()["stages"]}
            assert stages["sql"] >= 1, stages

        await eventually(counted, timeout_s=30)
    assert problems == []
    assert assignment.rep_id in {ada, bob}


async def test_a_rep_declines_one_lead_and_rejects_another_with_a_reason_code(
    db: Database, settings_env: Infra
) -> None:
    problems: list[str] = []
    app = create_app()
    app.state.runtime.consume = False
    await truncate_all(db)
    async with serving(app) as base_url:
        await add_rep(db, "solo")
        declined = await briefed_lead(db, job_title="CTO")
        rejected = await briefed_lead(db, job_title="Student")
        rep = bearer(Role.REP, rep_id=declined.rep_id)
        async with headless_chromium() as browser:
            page = await open_inbox(browser, base_url, rep, problems)
            decline = page.locator(f"article[data-lead='{declined.lead_id}'] form[data-action=decline]")
            await decline.locator("input[name=reason]").fill("on leave from Monday")
            await decline.locator("button[type=submit]").click()
            # Nobody else can take it, so it waits in the fallback queue, off the rep's page.
            await page.wait_for_function(
                f"!document.querySelector(\"article[data-lead='{declined.lead_id}']\")"
            )

            outcome = page.locator(f"article[data-lead='{rejected.lead_id}'] form[data-action=disposition]")
            await outcome.locator("select[name=outcome]").select_option("rejected")
            # The reason codes are the contract's, offered once the outcome is chosen.
            await outcome.locator("select[name=reason_code]").select_option("student")
            await outcome.locator("button[type=submit]").click()
            await page.wait_for_function(
                f"!document.querySelector(\"article[data-lead='{rejected.lead_id}']\")"
            )

    async with db.transaction() as session:
        handed_back = await session.get(Assignment, declined.id)
        reasons = (
            await session.execute(
                select(Disposition.outcome, Disposition.reason_code).where(
                    Disposition.assignment_id == rejected.id
                )
            )
        ).all()
    assert handed_back is not None
    assert handed_back.status == "queued"
    [handover] = handed_back.decision["handovers"]
    assert (handover["kind"], handover["reason"]) == ("declined", "on leave from Monday")
    assert [tuple(row) for row in reasons] == [("rejected", "student")]
    assert await status_of(db, rejected.id) == "rejected"
    assert problems == []


def _outcomes(records: list[ConsumerRecord[bytes, bytes]], lead_id: uuid.UUID) -> list[tuple[str, uuid.UUID]]:
    events = [decode_event(r.value) for r in records]
    return [
        (e.payload.outcome, e.payload.rep_id)
        for e in events
        if isinstance(e, LeadDispositioned) and e.lead_id == lead_id
    ]


async def _touched(base_url: str, headers: dict[str, str], assignment_id: uuid.UUID) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        queue = (await client.get("/v1/reps/me/queue")).json()
    [item] = [i for i in queue if i["id"] == str(assignment_id)]
    assert item["first_touch_at"] is not None


def test_the_inbox_asks_for_no_outside_resource() -> None:
    page = ASSETS.read("inbox.html") + ASSETS.read("inbox.js")
    assert "http://" not in page
    assert "https://" not in page
