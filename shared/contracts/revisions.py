"""Feedback's proposal of a revised agreement, as it travels to scoring.

Its own module (not `events.py`) so the contract stays additive: the event joins the union in
`events.py`, nothing else there changes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.contracts.agreement import PlannedRate
from shared.contracts.envelope import Envelope, Payload


class DriftedRate(Payload):
    """One planned rate the measured funnel left: the plan's rate and interval, and what was measured."""

    name: str = Field(description="`mql_to_sql`, `sql_to_won` or `lead_to_mql`.")
    planned: float
    planned_low: float | None = None
    planned_high: float | None = None
    measured: float
    low: float = Field(description="The measured rate's Wilson interval, lower bound.")
    high: float
    reached: int = Field(description="Leads that reached the next stage...")
    started: int = Field(description="...of the leads that started from this one.")


class AgreementRevisionProposedPayload(Payload):
    proposal_id: uuid.UUID = Field(description="Feedback's drift proposal; the draft is named after it.")
    agreement_version: str = Field(description="The agreement in force whose plan drifted.")
    drifted: list[DriftedRate]
    rates: dict[str, PlannedRate] = Field(
        description="Every planning rate of the revised plan, the drifted ones replaced by the measured."
    )
    mql_commitment_before: int | None = None
    mql_commitment_after: int | None = Field(
        default=None,
        description="Marketing's MQL commitment re-derived from the same goal and the revised rates.",
    )
    detected_at: datetime


class AgreementRevisionProposed(Envelope):
    """Emitted by feedback once per drift proposal, in the transaction that opens it: a measured
    funnel rate left the interval the agreement in force was planned with. Scoring opens it as a
    draft for both teams to sign (later checks that only update the open proposal emit nothing).

    Not about one lead: it carries `NO_LEAD`, like `rubric.activated`.
    """

    event_type: Literal["revision.proposed"] = "revision.proposed"
    payload: AgreementRevisionProposedPayload
