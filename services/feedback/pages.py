"""The shared dashboard: one server-rendered page at `/` over the JSON reports, and its assets.

The page holds no data and needs no token to load: its script reads the reports with the
reader's bearer token (kept in the tab's sessionStorage), exactly as any API client would, so
the dashboard adds no second way to authenticate.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from decimal import Decimal
from string import Template
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.feedback.dependencies import SettingsDep
from shared.pages import PageAssets

router = APIRouter(tags=["dashboard"])

ASSETS = PageAssets(
    "services.feedback",
    {
        "dashboard.js": "text/javascript; charset=utf-8",
        "charts.js": "text/javascript; charset=utf-8",
        "lookup.js": "text/javascript; charset=utf-8",
        "dashboard.css": "text/css; charset=utf-8",
    },
)
DEFAULT_REVENUE_GOAL = 100_000
DEFAULT_MONTHS = 12


@router.get(
    "/",
    summary="The shared dashboard: funnel, both SLAs, reasons, revenue, reverse funnel, drafts",
    response_class=HTMLResponse,
)
async def get_dashboard(
    settings: SettingsDep,
    revenue_goal: Annotated[
        Decimal | None,
        Query(gt=0, le=Decimal("1e12"), decimal_places=2, description="The reverse funnel's goal."),
    ] = None,
    months: Annotated[int | None, Query(ge=1, le=60, description="Months the goal covers.")] = None,
) -> HTMLResponse:
    page = Template(ASSETS.read("dashboard.html")).substitute(
        rendered_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        refresh_seconds=settings.dashboard_refresh_s,
        status="enter a token to load the numbers",
        waiting="Enter a reader's token above to load the numbers.",
        revenue_goal=revenue_goal or DEFAULT_REVENUE_GOAL,
        months=months or DEFAULT_MONTHS,
        ingest_url=_attribute(settings.public_ingest_url),
        scoring_url=_attribute(settings.public_scoring_url),
        routing_url=_attribute(settings.public_routing_url),
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


def _attribute(url: str | None) -> str:
    """A base URL as an HTML attribute value (empty when not configured), without its trailing slash."""
    return html.escape((url or "").rstrip("/"), quote=True)


@router.get("/dashboard", summary="The dashboard's former address; redirects to `/`", include_in_schema=False)
async def redirect_dashboard() -> RedirectResponse:
    return RedirectResponse("/", status_code=308)


@router.get("/static/{name}", summary="The dashboard's script, chart code and style", include_in_schema=False)
async def get_asset(name: str) -> Response:
    return ASSETS.response(name)
