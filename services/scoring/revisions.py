"""Feedback's drift proposals, opened as drafts for both teams to sign.

When the measured funnel leaves the intervals the agreement in force was planned with, feedback
emits `revision.proposed`; scoring copies the drifted version with the revised
planning rates (marketing's MQL commitment is re-derived from them, as for any plan) and stores
it as a draft made by feedback's drift check. It is signed like any other draft: one approval
from each team, then activation. Transport-free.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.agreement import ActiveRubric, create_draft
from services.scoring.models import RubricRecord, audit
from services.scoring.repository import RubricRepository
from services.scoring.rubric import Rubric, RubricInvalid
from services.scoring.schemas import RubricVersionRead
from shared.audit import record_change
from shared.contracts import utc_now
from shared.contracts.revisions import AgreementRevisionProposed

log = logging.getLogger(__name__)

# The author of every drift draft in `rubric.created_by` and the audit trail.
DRIFT_AUTHOR = "feedback:drift-check"
# What a version may hold before "-drift-" and the proposal's id (64 characters in all).
_BASE_LENGTH = 46


def drift_version(base: str, event: AgreementRevisionProposed) -> str:
    """The draft's version, named after the proposal: one draft per proposal, however often the
    event is delivered."""
    return f"{base[:_BASE_LENGTH]}-drift-{event.payload.proposal_id.hex[:8]}"


async def open_drift_draft(
    session: AsyncSession, *, event: AgreementRevisionProposed, active: ActiveRubric
) -> RubricVersionRead | None:
    """Open the proposal as a draft, unless this proposal has its draft already or the drifted
    version is gone. Both teams sign one revision at a time: feedback proposes anew only once its
    previous proposal is resolved or superseded, so a drift draft still open from an earlier
    proposal is stale, and is withdrawn (approvals and all) when the new one opens. Left open, a
    draft nobody signed would hold back every later drift for good."""
    proposal = event.payload
    rubrics = RubricRepository(session)
    version = drift_version(proposal.agreement_version, event)
    if await rubrics.get(version) is not None:
        log.info("scoring.drift_draft_skipped", extra={"proposal_id": str(proposal.proposal_id)})
        return None
    base = await _document(session, proposal.agreement_version, active)
    if base is None or not base.get("plan"):
        log.warning("scoring.drift_base_missing", extra={"version": proposal.agreement_version})
        return None
    document = copy.deepcopy(base)
    document["version"] = version
    rates: dict[str, Any] = document["plan"]["rates"]
    measured = {d.name: d.measured for d in proposal.drifted}
    for name, revised in proposal.rates.items():
        # Only the rates the plan knows; a rate added to feedback later must not fail the draft.
        if name not in ("mql_to_sql", "sql_to_won", "lead_to_mql"):
            continue
        rate = {
            "rate": revised.rate,
            "low": revised.low,
            "high": revised.high,
            "measured": measured.get(name),
        }
        rates[name] = {key: value for key, value in rate.items() if value is not None}
    try:
        draft = Rubric.from_document(document)
    except RubricInvalid as exc:
        # Retrying cannot help, and the proposal stays listed in feedback for both teams to see.
        log.warning("scoring.drift_draft_invalid", extra={"version": version, "error": str(exc)})
        return None
    for stale in await rubrics.drafts_by(DRIFT_AUTHOR):
        await withdraw_draft(session, record=stale, actor=DRIFT_AUTHOR, reason=f"superseded by {version}")
    return await create_draft(session, draft=draft, author=DRIFT_AUTHOR, active=active)


async def withdraw_draft(session: AsyncSession, *, record: RubricRecord, actor: str, reason: str) -> None:
    """Take a draft out of signing for good: its approvals no longer count toward anything, and
    its version stays taken (a score's version names one document)."""
    record.status, record.updated_at = "withdrawn", utc_now()
    await session.flush()
    await record_change(
        session,
        audit,
        actor=actor,
        action="rubric.withdrawn",
        object_type="rubric",
        object_id=record.version,
        before={"status": "draft"},
        after={"status": "withdrawn", "reason": reason},
    )


async def _document(session: AsyncSession, version: str, active: ActiveRubric) -> dict[str, Any] | None:
    if version == active.configured.version:
        return active.configured.model_dump(mode="json")
    record = await RubricRepository(session).get(version)
    return record.document if record else None
