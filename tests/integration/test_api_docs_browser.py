"""Every service's `/docs` (Swagger UI) and `/redoc` work offline, in headless Chromium.

The browser resolves no host but the loopback and the test refuses any request that leaves it,
so a page that still loads an asset from a CDN fails here as it would on a plane.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Request, Route

from tests.support.browser import headless_chromium, serving

SERVICES = ("ingest", "scoring", "routing", "feedback")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


# One Chromium for the module: launching it cost each of the eight tests a few seconds, and
# every test still gets a page in a fresh browser context of its own (`Browser.new_page`).
@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with headless_chromium(offline=True) as launched:
        yield launched


async def offline_page(browser: Browser, base_url: str) -> tuple[Page, list[str]]:
    """A page whose requests off `base_url` are refused and recorded."""
    page = await browser.new_page()
    outside: list[str] = []

    async def only_the_service(route: Route, request: Request) -> None:
        if request.url.startswith(base_url + "/"):
            await route.continue_()
        else:
            outside.append(request.url)
            await route.abort("internetdisconnected")

    await page.route("**/*", only_the_service)
    return page, outside


def operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


@pytest.mark.parametrize("service", SERVICES)
async def test_swagger_ui_lists_every_operation_with_no_network(
    service: str, offline_settings: None, browser: Browser
) -> None:
    app = importlib.import_module(f"services.{service}.main").create_app()
    expected = operations(app.openapi())
    async with serving(app, lifespan="off") as base_url:
        page, outside = await offline_page(browser, base_url)
        await page.goto(f"{base_url}/docs")
        await page.wait_for_selector(".opblock", timeout=20_000)
        shown = await page.eval_on_selector_all(
            ".opblock",
            """blocks => blocks.map(b => [
                b.querySelector('.opblock-summary-method').textContent.trim(),
                b.querySelector('.opblock-summary-path').getAttribute('data-path'),
            ])""",
        )
    assert outside == []
    assert {(method, path) for method, path in shown} == expected


@pytest.mark.parametrize("service", SERVICES)
async def test_redoc_renders_the_api_with_no_network(
    service: str, offline_settings: None, browser: Browser
) -> None:
    app = importlib.import_module(f"services.{service}.main").create_app()
    summaries = [
        operation["summary"]
        for item in app.openapi()["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS and operation.get("summary")
    ]
    async with serving(app, lifespan="off") as base_url:
        page, outside = await offline_page(browser, base_url)
        await page.goto(f"{base_url}/redoc")
        await page.wait_for_function(
            "summary => document.body.innerText.includes(summary)", arg=summaries[0], timeout=20_000
        )
    assert outside == []
