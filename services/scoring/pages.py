"""The signing page: one server-rendered page at `/agreement` where marketing and sales each read
a draft agreement (its plan, its diff against the active version, its backtest and feedback's
evidence) and approve it with their own token; then it is activated.

The page holds no data and needs no token to load: its script calls scoring's API (and the
evidence route, which reads feedback with the same token) with the bearer token pasted into it
and kept in the tab's sessionStorage, so signing in the browser adds no second way to authenticate.
"""

from __future__ import annotations

import html
from string import Template

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from services.scoring.dependencies import SettingsDep
from shared.pages import PageAssets

router = APIRouter(tags=["agreement page"])

ASSETS = PageAssets(
    "services.scoring",
    {"agreement.js": "text/javascript; charset=utf-8", "agreement.css": "text/css; charset=utf-8"},
)


@router.get(
    "/agreement",
    summary="The signing page: a draft's plan, diff, backtest and evidence, approved by each team",
    response_class=HTMLResponse,
)
async def get_agreement_page(settings: SettingsDep) -> HTMLResponse:
    page = Template(ASSETS.read("agreement.html")).substitute(
        dashboard_url=html.escape((settings.dashboard_url or "").rstrip("/"), quote=True)
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/static/{name}", summary="The signing page's script and style", include_in_schema=False)
async def get_asset(name: str) -> Response:
    return ASSETS.response(name)
