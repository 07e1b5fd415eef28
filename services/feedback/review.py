"""Rubric drafts awaiting approval, next to the evidence feedback holds for the rules they change.

Scoring owns the drafts and their approvals; feedback owns the outcomes. A reviewer needs both
on one screen: what the draft changes, who has signed, and how the leads each changed rule
fired for actually fared with sales.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from services.feedback.tuning import Observation, RuleEvidence


@dataclass(frozen=True)
class Approval:
    team: str
    approver: str
    approved_at: datetime


@dataclass(frozen=True)
class RuleChange:
    """One rule the draft adds, removes or changes, as scoring's diff reports it."""

    rule_id: str
    section: str
    change: str
    points_before: float | None
    points_after: float | None


@dataclass(frozen=True)
class DraftRubric:
    version: str
    created_by: str
    created_at: datetime
    approvals: tuple[Approval, ...]
    missing_approvals: tuple[str, ...]
    document: dict[str, Any]
    changes: tuple[RuleChange, ...]


class DraftSource(Protocol):
    """Where drafts come from (scoring's API in production)."""

    async def drafts_awaiting_approval(self) -> list[DraftRubric]: ...


@dataclass(frozen=True)
class ChangeEvidence:
    change: RuleChange
    evidence: RuleEvidence | None


@dataclass(frozen=True)
class DraftReview:
    draft: DraftRubric
    outcomes: int
    sql: int
    changes: tuple[ChangeEvidence, ...]


def review(
    draft: DraftRubric, evidence: Sequence[RuleEvidence], observations: Sequence[Observation]
) -> DraftReview:
    """The draft's changes, each with the evidence for its rule (none for a rule never seen)."""
    by_rule = {e.rule_id: e for e in evidence}
    return DraftReview(
        draft=draft,
        outcomes=len(observations),
        sql=sum(o.sql for o in observations),
        changes=tuple(ChangeEvidence(c, by_rule.get(c.rule_id)) for c in draft.changes),
    )
