"""The dashboard's "Look a lead up" box in headless Chromium: an email becomes the link to
ingest's search, whose answer's lead id becomes links to the lead's view, score, assignment and
brief. The page calls no other service (other origins); the links are followed here with a token,
as the reader would."""

from __future__ import annotations

import uuid

import httpx
from playwright.async_api import Page, async_playwright

from services.feedback.main import create_app as create_feedback_app
from services.feedback.settings import FeedbackSettings
from services.ingest.main import create_app as create_ingest_app
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.browser import CHROMIUM_ARGS, chromium, serving
from tests.support.ingest import MARKETING

SCORING = "http://127.0.0.1:8002"
# Where feedback itself reads scoring on a cluster: never a link the reader's browser could open.
IN_CLUSTER_SCORING = "http://baton-scoring:8002"
ROUTING = "http://127.0.0.1:8003/"


async def links_for(page: Page, query: str) -> dict[str, str]:
    await page.fill("#lookup-query", query)
    await page.click("#lookup button")
    await page.wait_for_selector("#lookup-links li")
    found: dict[str, str] = await page.eval_on_selector_all(
        "#lookup-links li a", "as => Object.fromEntries(as.map((a) => [a.textContent, a.href]))"
    )
    return found


async def test_an_email_leads_to_the_lead_and_its_id_to_every_service(
    db: Database, settings_env: Infra
) -> None:
    executable = chromium()
    email = f"lookup-{uuid.uuid4().hex[:8]}@dashboard.example"
    async with serving(create_ingest_app()) as ingest_url:
        settings = FeedbackSettings(
            scoring_url=IN_CLUSTER_SCORING,
            public_ingest_url=ingest_url,
            public_scoring_url=SCORING,
            public_routing_url=ROUTING,
        )
        async with serving(create_feedback_app(settings), lifespan="off") as dashboard_url:
            async with httpx.AsyncClient(base_url=ingest_url) as http:
                configured = await http.post(
                    "/v1/forms", json={"id": "lookup-dash", "name": "lookup-dash"}, headers=MARKETING
                )
                assert configured.status_code == 201, configured.text
                posted = await http.post("/v1/forms/lookup-dash/submissions", json={"email": email})
                assert posted.status_code == 202, posted.text
            lead_id = posted.json()["lead_id"]

            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                try:
                    page = await browser.new_page()
                    await page.goto(dashboard_url)
                    by_email = await links_for(page, email)
                    by_id = await links_for(page, lead_id.upper())
                finally:
                    await browser.close()

            assert list(by_email) == ["search by email"]
            reader = bearer(Role.MANAGER)
            async with httpx.AsyncClient() as http:
                search = await http.get(by_email["search by email"], headers=reader)
                assert [lead["id"] for lead in search.json()] == [lead_id]
                view = await http.get(by_id["lead view"], headers=reader)
                assert view.status_code == 200, view.text
                assert view.json()["email"] == email

    assert by_id == {
        "lead view": f"{ingest_url}/v1/leads/{lead_id}",
        "score": f"{SCORING}/v1/leads/{lead_id}/score",
        "assignment": f"http://127.0.0.1:8003/v1/leads/{lead_id}/assignment",
        "brief": f"http://127.0.0.1:8003/v1/leads/{lead_id}/brief",
    }


async def test_the_links_use_the_public_addresses_only(settings_env: Infra) -> None:
    """Without a public address a service gets no link, even when feedback reads it in-cluster."""
    settings = FeedbackSettings(scoring_url=IN_CLUSTER_SCORING, public_routing_url=ROUTING)
    async with (
        serving(create_feedback_app(settings), lifespan="off") as dashboard_url,
        httpx.AsyncClient(base_url=dashboard_url) as http,
    ):
        page = await http.get("/")
    assert page.status_code == 200, page.text
    assert 'data-ingest-url=""' in page.text
    assert 'data-scoring-url=""' in page.text
    assert 'data-routing-url="http://127.0.0.1:8003"' in page.text
    assert "baton-scoring" not in page.text
