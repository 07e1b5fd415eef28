"""The rep's inbox: one server-rendered page at `/inbox` over routing's JSON API, and its assets.

Like feedback's dashboard, the page holds no data and needs no token to load: its script reads
the queue and acts on it with the caller's bearer token (from the URL fragment, kept in the tab's
sessionStorage), exactly as any API client would. A rep sees their own open leads, a manager
their team's. No CDN: everything the page needs is served here.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from string import Template
from typing import get_args

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from services.routing.lifecycle import NEXT_STATUSES
from shared.contracts.events import REASON_LABELS, LostReason, RejectReason, TouchChannel
from shared.pages import PageAssets

router = APIRouter(tags=["inbox"])

ASSETS = PageAssets(
    "services.routing",
    {"inbox.js": "text/javascript; charset=utf-8", "inbox.css": "text/css; charset=utf-8"},
)


def _choices() -> str:
    """What the buttons may offer, from the lifecycle and the contracts (the script copies no
    list of its own): the next outcomes per status, the reason codes with their labels, the
    touch channels."""
    return json.dumps(
        {
            "next": {status: sorted(following) for status, following in NEXT_STATUSES.items()},
            "rejected": {code: REASON_LABELS[code] for code in get_args(RejectReason)},
            "lost": {code: REASON_LABELS[code] for code in get_args(LostReason)},
            "channels": list(get_args(TouchChannel)),
        }
    )


@router.get(
    "/inbox",
    summary="The rep's inbox: open leads by SLA due time, each with its brief",
    response_class=HTMLResponse,
)
async def get_inbox() -> HTMLResponse:
    page = Template(ASSETS.read("inbox.html")).substitute(
        rendered_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        choices=html.escape(_choices(), quote=True),
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/static/{name}", summary="The inbox's script and style", include_in_schema=False)
async def get_asset(name: str) -> Response:
    return ASSETS.response(name)
