"""Feedback's evidence for the signing page, read over its HTTP API.

The signer's own bearer token is forwarded, so the page shows exactly what that reader may see
in feedback, and scoring holds no credentials of its own. Read server-side, so feedback needs
no cross-origin exception for scoring's page.
"""

from __future__ import annotations

from typing import Any

from services.scoring.errors import FeedbackUnavailable
from shared.peer_api import PeerApi

EVIDENCE = {
    "planning_rates": "/v1/agreement/planning-rates",
    "scorecards": "/v1/agreement/scorecards",
    "proposals": "/v1/agreement/proposals",
}


class FeedbackClient:
    def __init__(self, base_url: str, *, authorization: str, timeout_s: float = 5.0) -> None:
        self.api = PeerApi(
            base_url,
            authorization=authorization,
            peer="feedback",
            unavailable=FeedbackUnavailable,
            timeout_s=timeout_s,
        )

    async def evidence(self) -> dict[str, Any]:
        """The measured planning rates (with their intervals), both teams' scorecards and the drift
        proposals."""
        async with self.api.reading() as get:
            return {name: await get(path) for name, path in EVIDENCE.items()}
