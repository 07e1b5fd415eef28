"""Scoring's rubric lifecycle, read over its HTTP API for the dashboard's review panel.

The reader's own bearer token is forwarded, so the panel shows exactly what that reader may
see in scoring, and feedback holds no credentials of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.feedback.errors import ScoringUnavailable
from services.feedback.review import Approval, DraftRubric, RuleChange
from shared.peer_api import PeerApi


class ScoringClient:
    def __init__(self, base_url: str, *, authorization: str, timeout_s: float = 5.0) -> None:
        self.api = PeerApi(
            base_url,
            authorization=authorization,
            peer="scoring",
            unavailable=ScoringUnavailable,
            timeout_s=timeout_s,
        )

    async def drafts_awaiting_approval(self) -> list[DraftRubric]:
        """Every draft that still misses a team's approval, with its document and its diff."""
        async with self.api.reading() as get:
            versions = await get("/v1/rubrics")
            drafts = []
            for v in versions:
                if v.get("status") != "draft" or not v.get("missing_approvals"):
                    continue
                version = await get(f"/v1/rubrics/{v['version']}")
                diff = await get(f"/v1/rubrics/{v['version']}/diff")
                drafts.append(_draft(version, diff))
        return sorted(drafts, key=lambda d: d.created_at, reverse=True)


def _points(rule: dict[str, Any] | None) -> float | None:
    return None if rule is None or rule.get("points") is None else float(rule["points"])


def _draft(version: dict[str, Any], diff: dict[str, Any]) -> DraftRubric:
    return DraftRubric(
        version=version["version"],
        created_by=version["created_by"],
        created_at=datetime.fromisoformat(version["created_at"]),
        approvals=tuple(
            Approval(a["team"], a["approver"], datetime.fromisoformat(a["approved_at"]))
            for a in version.get("approvals", [])
        ),
        missing_approvals=tuple(version.get("missing_approvals", [])),
        document=version.get("document") or {},
        changes=tuple(
            RuleChange(
                rule_id=c["rule_id"],
                section=c["section"],
                change=c["change"],
                points_before=_points(c.get("before")),
                points_after=_points(c.get("after")),
            )
            for c in diff.get("rules", [])
        ),
    )
