"""A website embeds a form with the snippet ingest serves, in headless Chromium.

Ingest and two websites run on their own loopback ports, so each is its own origin. The page on
the form's allowed origin posts through the snippet with `fetch()`, reads the `lead_id` and shows
the thank-you note; the same page on another origin can neither send the post nor read an answer.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.async_api import Browser, Page

from services.ingest.main import create_app
from shared.contracts import LeadIngested
from shared.db import Database
from tests.conftest import Infra
from tests.support.browser import headless_chromium, serving
from tests.support.ingest import MARKETING, staged

FORM = "embedded-demo"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with headless_chromium(offline=True) as launched:
        yield launched


def website(snippet: dict[str, str]) -> FastAPI:
    """A landing page that pastes the snippet (once the test has it) into its body."""
    site = FastAPI()

    @site.get("/", response_class=HTMLResponse)
    async def landing() -> str:
        return (
            '<!doctype html><html><head><meta charset="utf-8"><title>Book a demo</title></head>'
            f"<body><h1>Book a demo</h1>\n{snippet['html']}</body></html>"
        )

    return site


async def fill_and_send(page: Page, url: str) -> None:
    await page.goto(url)
    await page.fill('input[name="email"]', "ada@example.com")
    await page.fill('input[name="company"]', "Analytical Engines")
    await page.click('button[type="submit"]')


async def test_a_page_on_an_allowed_origin_reads_the_lead_id_and_another_cannot(
    db: Database, settings_env: Infra, browser: Browser
) -> None:
    snippet: dict[str, str] = {"html": ""}
    async with (
        serving(create_app()) as ingest_url,
        serving(website(snippet)) as allowed_site,
        serving(website(snippet)) as other_site,
    ):
        async with httpx.AsyncClient(base_url=ingest_url) as http:
            configured = await http.post(
                "/v1/forms",
                json={"id": FORM, "name": "Demo", "allowed_origins": [allowed_site]},
                headers=MARKETING,
            )
            assert configured.status_code == 201, configured.text
            served = await http.get(f"/v1/forms/{FORM}/embed", headers=MARKETING)
            assert served.status_code == 200, served.text
            snippet["html"] = served.text

        page = await browser.new_page()
        await fill_and_send(page, f"{allowed_site}/?utm_source=newsletter&utm_campaign=winter")
        thanks = page.locator(f"#baton-thanks-{FORM}")
        await thanks.wait_for(state="visible", timeout=20_000)
        lead_id = await thanks.get_attribute("data-lead-id")
        assert lead_id is not None
        assert await page.locator(f"#baton-form-{FORM}").is_hidden()
        assert "Thank you" in await thanks.inner_text()

        elsewhere = await browser.new_page()
        await fill_and_send(elsewhere, f"{other_site}/")
        error = elsewhere.locator(f"#baton-error-{FORM}")
        await error.wait_for(state="visible", timeout=20_000)
        assert await elsewhere.locator(f"#baton-thanks-{FORM}").is_hidden()
        assert await elsewhere.locator(f"#baton-thanks-{FORM}").get_attribute("data-lead-id") is None
        # Even a post the browser sends without asking (form-encoded), ingest refuses, and the
        # page cannot read the refusal either: `fetch` rejects.
        outcome = await elsewhere.evaluate(
            """url => fetch(url, {method: "POST", body: new URLSearchParams({email: "eve@example.com"})})
                .then(r => "read " + r.status, e => "blocked: " + e.name)""",
            f"{ingest_url}/v1/forms/{FORM}/submissions",
        )
        assert outcome == "blocked: TypeError"

    ingested = [e for e in await staged(db, "lead.ingested") if isinstance(e, LeadIngested)]
    assert [str(e.lead_id) for e in ingested] == [lead_id]
    assert uuid.UUID(lead_id)
    assert ingested[0].payload.utm == {"source": "newsletter", "campaign": "winter"}
    assert ingested[0].payload.company == "Analytical Engines"
