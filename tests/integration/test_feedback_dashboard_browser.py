"""The shared dashboard in headless Chromium, served by feedback on a real uvicorn port.

The page must load with no console error and show exactly the numbers the API returns for the
scripted history. Chromium is the system's (Debian `chromium`; `scripts/ensure-chromium`
installs it): a missing browser fails the test unless BATON_SKIP_BROWSER_TESTS=1.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import ConsoleMessage, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from baton.demo.agreement import starter_document
from services.feedback.main import create_app
from services.scoring.main import create_app as create_scoring_app
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer, truncate_all
from tests.integration.test_feedback_reports import replay
from tests.support.apps import caught_up
from tests.support.browser import CHROMIUM_ARGS, chromium, serving
from tests.support.feedback import EXECUTIVE, scripted_events

GOAL = {"revenue_goal": "60000", "months": "3"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DRAFT = "2026.11-tuned-1"


def count(n: int | None) -> str:
    return "\u2013" if n is None else f"{n:,}"


def pct(x: float | None) -> str:
    return "\u2013" if x is None else f"{100 * x:.1f} %"


def money(x: float | None) -> str:
    return "\u2013" if x is None else f"{x:,.2f}"


def secs(s: float | None) -> str:
    if s is None:
        return "\u2013"
    if s < 120:
        return f"{s:.1f} s"
    return f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def expected_metrics(api: dict[str, Any]) -> dict[str, str]:
    """What the page must show for each `data-metric`, formatted as the page formats it."""
    shown: dict[str, str] = {}
    into = {c["to"]: c for c in api["funnel"]["conversions"]}
    for s in api["funnel"]["stages"]:
        conversion = into.get(s["stage"], {})
        shown[f"funnel.{s['stage']}.count"] = count(s["count"])
        shown[f"funnel.{s['stage']}.rate"] = pct(conversion.get("rate"))
        shown[f"funnel.{s['stage']}.median"] = secs(conversion.get("median_seconds"))
    for g in api["versions"]["groups"]:
        n = {s["stage"]: s["count"] for s in g["stages"]}
        k = g["key"] or "none"
        for stage in ("ingested", "mql", "sql", "won"):
            shown[f"versions.{k}.{stage}"] = count(n[stage])
        shown[f"versions.{k}.mql_to_sql"] = pct(n["sql"] / n["mql"] if n["mql"] else None)
    for r in api["speed"]["rows"]:
        k = r["key"] or "none"
        shown[f"speed.{k}.system.n"] = count(r["system"]["n"])
        shown[f"speed.{k}.system"] = f"{secs(r['system']['p50_s'])} / {secs(r['system']['p95_s'])}"
        shown[f"speed.{k}.human.n"] = count(r["human"]["n"])
        shown[f"speed.{k}.human"] = f"{secs(r['human']['p50_s'])} / {secs(r['human']['p95_s'])}"
    for r in api["sla"]["rows"]:
        k = r["key"] or "none"
        for field in ("met", "missed", "pending"):
            shown[f"sla.{k}.{field}"] = count(r[field])
        shown[f"sla.{k}.share"] = pct(r["share_met"])
    for m in api["delivery"]["months"]:
        shown[f"delivery.{m['month']}.mqls"] = count(m["mqls"])
        shown[f"delivery.{m['month']}.share"] = pct(m["share_of_target"])
    for kind in ("rejected", "lost"):
        for r in api["reasons"][kind]:
            shown[f"{kind}.{r['reason']}.count"] = count(r["count"])
            shown[f"{kind}.{r['reason']}.share"] = pct(r["share"])
    for r in api["revenue"]["rows"]:
        k = r["key"] or "none"
        shown[f"revenue.{k}.deals"] = count(r["deals"])
        shown[f"revenue.{k}.first"] = money(r["first_touch"])
        shown[f"revenue.{k}.last"] = money(r["last_touch"])
        shown[f"revenue.{k}.linear"] = money(r["linear"])
    shown["revenue.total.deals"] = count(api["revenue"]["deals"])
    shown["revenue.total"] = money(api["revenue"]["revenue"])
    for d in api["proposals"]["drafts"]:
        shown[f"proposal.{d['version']}.outcomes"] = count(d["outcomes"])
        for c in d["changes"]:
            m = f"proposal.{d['version']}.{c['rule_id']}"
            before, after = (
                "\u2013" if p is None else f"{p:g}" for p in (c["points_before"], c["points_after"])
            )
            shown[f"{m}.points"] = f"{before} \u2192 {after}"
            shown[f"{m}.leads"] = count(c["leads"])
            shown[f"{m}.rate"] = pct(c["rate"])
            shown[f"{m}.lift"] = "\u2013" if c["lift"] is None else f"\u00d7{c['lift']:.2f}"
    for n in api["reverse"]["needs"]:
        shown[f"reverse.{n['stage']}.per_month"] = count(n["per_month"])
        shown[f"reverse.{n['stage']}.over_period"] = count(n["over_period"])
    return shown


async def read_api(base_url: str, headers: dict[str, str]) -> dict[str, Any]:
    paths = {
        "funnel": "/v1/funnel",
        "versions": "/v1/funnel/groups?by=rubric_version",
        "speed": "/v1/speed-to-lead?by=sla_tier",
        "sla": "/v1/sla/first-touch?by=sla_tier",
        "delivery": "/v1/sla/mql-delivery",
        "reasons": "/v1/reasons",
        "revenue": "/v1/reports/attribution?by=source",
        "reverse": "/v1/reports/reverse-funnel?revenue_goal=60000&months=3",
        "proposals": "/v1/reports/proposals",
    }
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        answers = {name: await client.get(path) for name, path in paths.items()}
    for name, response in answers.items():
        assert response.status_code == 200, (name, response.text)
    return {name: response.json() for name, response in answers.items()}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def draft_awaiting_sales(scoring_url: str) -> str:
    """A draft in scoring that raises one rule's points, approved by marketing only."""
    document = starter_document()
    document["version"] = DRAFT
    rule = next(r for r in document["fit"] if r["id"] == EXECUTIVE)
    rule["points"] = int(rule["points"]) + 5
    async with httpx.AsyncClient(base_url=scoring_url, headers=bearer(Role.MARKETING)) as client:
        created = await client.post("/v1/rubrics", json=document)
        assert created.status_code == 201, created.text
        approved = await client.post(f"/v1/rubrics/{DRAFT}/approvals")
        assert approved.status_code == 200, approved.text
    return DRAFT


async def test_the_dashboard_shows_the_numbers_the_api_returns(
    db: Database, settings_env: Infra, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executable = chromium()
    headers = bearer(Role.MANAGER)
    token = headers["Authorization"].removeprefix("Bearer ")
    scoring = create_scoring_app()
    async with serving(scoring) as scoring_url:
        monkeypatch.setenv("BATON_SCORING_URL", scoring_url)
        app = create_app()
        async with serving(app) as base_url:
            # The broker outlives this test: let the consumers work through earlier tests' events first.
            await caught_up(app)
            await caught_up(scoring)
            await truncate_all(db)
            await replay(db, scripted_events())
            await draft_awaiting_sales(scoring_url)
            api = await read_api(base_url, headers)
            await look_at_the_page(executable, base_url, token, tmp_path, api)


async def look_at_the_page(
    executable: str, base_url: str, token: str, tmp_path: Path, api: dict[str, Any]
) -> None:
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"}:
            problems.append(f"console {message.type}: {message.text}")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", on_console)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            # The token rides in the fragment (never sent to the server); the goal is rendered by it.
            await page.goto(
                f"{base_url}/?revenue_goal={GOAL['revenue_goal']}&months={GOAL['months']}#token={token}"
            )
            try:
                await page.wait_for_function(
                    "document.getElementById('status').textContent.startsWith('updated')", timeout=20_000
                )
            except PlaywrightTimeout:
                status = await page.text_content("#status")
                pytest.fail(f"the page never finished loading: {status!r}; {problems}")
            shown = await page.eval_on_selector_all(
                "[data-metric]",
                "cells => Object.fromEntries(cells.map(c => [c.dataset.metric, c.textContent]))",
            )
            address = page.url
            charts = await page.eval_on_selector_all(".chart svg", "svgs => svgs.length")
            awaiting = await page.text_content("#proposals")
            screenshot = tmp_path / "dashboard.png"
            await page.screenshot(path=str(screenshot), full_page=True)
        finally:
            await browser.close()

    assert problems == []
    assert shown == expected_metrics(api)
    assert shown["reverse.ingested.per_month"] == "35"
    assert shown["revenue.google.linear"] == "1,500.00"
    assert shown["versions.v1.mql_to_sql"] == "50.0 %"
    assert shown[f"proposal.{DRAFT}.{EXECUTIVE}.leads"] == "3"
    assert "awaiting sales" in (awaiting or "")
    assert "token" not in address, "the token must leave the address bar"
    assert charts == 7
    data = screenshot.read_bytes()
    width, height = png_size(data)
    assert (width, height >= 800) == (1400, True)
    assert len(data) > 30_000, "a blank page compresses to a few kilobytes"
    if os.environ.get("BATON_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(screenshot, Path(__file__).parents[2] / "docs" / "dashboard.png")


async def test_an_empty_system_explains_every_empty_panel(db: Database, settings_env: Infra) -> None:
    executable = chromium()
    token = bearer(Role.SALES)["Authorization"].removeprefix("Bearer ")
    app = create_app()
    async with serving(app) as base_url:
        await caught_up(app)
        await truncate_all(db)
        messages: list[str] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                page.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda error: messages.append(f"page error: {error}"))
                await page.goto(f"{base_url}/#token={token}")
                await page.wait_for_function(
                    "document.getElementById('status').textContent.startsWith('updated')", timeout=20_000
                )
                empty = await page.eval_on_selector_all(".empty", "cells => cells.map(c => c.textContent)")
            finally:
                await browser.close()
    # The reverse funnel's 422 is the one failed request: nothing can be planned from no history.
    assert all("status of 422" in m for m in messages), messages
    assert "No lead has been assigned yet: speed to lead starts when routing assigns an MQL." in empty
    assert "No deal won yet: revenue appears when a rep marks a lead won with an amount." in empty
    assert "Not enough history to plan from: lead→MQL rate: no lead in the period yet" in " ".join(empty)
    assert any("BATON_SCORING_URL" in text for text in empty)
