"""Feedback's evidence for the signing page, read over its HTTP API.

The signer's own bearer token is forwarded, so the page shows exactly what that reader may see
in feedback, and scoring holds no credentials of its own. Read server-side, so feedback needs
no cross-origin exception for scoring's page.
"""

from __future__ import annotations

from typing import Any

import httpx

from services.scoring.errors import FeedbackUnavailable

EVIDENCE = {
    "planning_rates": "/v1/agreement/planning-rates",
    "scorecards": "/v1/agreement/scorecards",
    "proposals": "/v1/agreement/proposals",
}


class FeedbackClient:
    def __init__(self, base_url: str, *, authorization: str, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": authorization}
        self.timeout_s = timeout_s

    async def evidence(self) -> dict[str, Any]:
        """The measured planning rates (with their intervals), both teams' scorecards and the drift
        proposals."""
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=self.timeout_s
        ) as client:
            return {name: await _get(client, path) for name, path in EVIDENCE.items()}


async def _get(client: httpx.AsyncClient, path: str) -> Any:
    try:
        response = await client.get(path)
    except httpx.HTTPError as exc:
        raise FeedbackUnavailable(f"feedback did not answer {path}: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise FeedbackUnavailable(f"feedback answered {response.status_code} to {path}")
    return response.json()
