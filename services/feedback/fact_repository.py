"""Feedback's SQL for folding events into `lead_fact`: one upsert per kind of event, each column
merged by an order-free rule (the earliest stage time, the latest score, the first value of a
stage), so events arriving late, twice or out of order give the same row."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, case, func, literal_column, or_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.feedback.funnel import Stage
from services.feedback.models import STAGE_COLUMNS, LeadAttempt, LeadFact
from services.feedback.write_buffer import write

# What an outcome carries besides its time: why a lead was rejected or lost, what a win was worth.
_OUTCOME_DETAIL: Mapping[Stage, str] = {
    Stage.REJECTED: "reject_reason",
    Stage.LOST: "loss_reason",
    Stage.WON: "amount",
}


def _earliest(column: InstrumentedAttribute[Any], new: Any) -> ColumnElement[Any]:
    # LEAST ignores NULLs, so the first event of a stage simply sets it.
    return func.least(column, new)


def _follows_earliest(
    column: InstrumentedAttribute[Any], new: Any, basis: InstrumentedAttribute[Any], new_basis: Any
) -> ColumnElement[Any]:
    """The value carried by the earliest event of the stage `basis` times (ties keep the old)."""
    return case((or_(basis.is_(None), new_basis < basis), new), else_=column)


def _follows_latest(
    column: InstrumentedAttribute[Any], new: Any, basis: InstrumentedAttribute[Any], new_basis: Any
) -> ColumnElement[Any]:
    return case((or_(basis.is_(None), new_basis > basis), new), else_=column)


# Built once, like the upserts below; a redelivered or replayed touch is one attempt.
_RECORD_ATTEMPT = (
    insert(cast(Table, LeadAttempt.__table__))
    .values({name: bindparam(name) for name in ("lead_id", "touched_at", "channel")})
    .on_conflict_do_nothing()
)
_UPSERTS: dict[tuple[tuple[str, ...], tuple[str, ...]], Any] = {}


def _fact_table() -> Table:
    table = LeadFact.__table__
    assert isinstance(table, Table)
    return table


def _upsert_statement(values: Mapping[str, Any], updates: Mapping[str, Any]) -> Any:
    """The upsert of these columns, built once and reused with new parameters: building and
    compiling it for every event was most of feedback's CPU. Each method of the repository
    writes its own set of columns, so the column names identify the statement."""
    shape = (tuple(values), tuple(updates))
    statement = _UPSERTS.get(shape)
    if statement is None:
        # On the table, not the ORM entity: the ORM copies the statement on every execution,
        # which would recompute its cache key each time.
        inserted = insert(_fact_table()).values(
            lead_id=bindparam("lead_id"), **{name: bindparam(name) for name in values}
        )
        # Every SET expression sees the row as it was before this event, so one pass is enough.
        set_ = {name: build(inserted.excluded) for name, build in updates.items()}
        statement = _UPSERTS[shape] = inserted.on_conflict_do_update(
            index_elements=[LeadFact.lead_id], set_=set_
        )
    return statement


class LeadFactRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _upsert(
        self, lead_id: uuid.UUID, values: Mapping[str, Any], updates: Mapping[str, Any]
    ) -> None:
        await write(self.session, _upsert_statement(values, updates), {"lead_id": lead_id, **values})

    async def record_ingestion(
        self,
        lead_id: uuid.UUID,
        *,
        ingested_at: datetime,
        source: str,
        form_id: str | None,
        campaign: str | None,
        utm: dict[str, str],
        is_test: bool = False,
        profile: dict[str, Any] | None = None,
    ) -> None:
        values = {
            "ingested_at": ingested_at,
            "source": source,
            "form_id": form_id,
            "campaign": campaign,
            "utm": utm,
            "is_test": is_test,
            "profile": profile,
        }
        first = LeadFact.ingested_at
        updates = {
            "ingested_at": lambda x: _earliest(first, x.ingested_at),
            **{
                name: _bind_follows_earliest(name, first, "ingested_at")
                for name in ("source", "form_id", "campaign", "utm", "is_test", "profile")
            },
        }
        await self._upsert(lead_id, values, updates)

    async def forget_personal_profile(self, lead_id: uuid.UUID) -> None:
        """Drop the profile's `attributes.*` answers and `email_domain`; keep the rest."""
        kept: ColumnElement[Any] = literal_column(
            "(SELECT coalesce(jsonb_object_agg(key, value), '{}'::jsonb) FROM jsonb_each(profile)"
            " WHERE key NOT LIKE 'attributes.%' AND key <> 'email_domain')"
        )
        await self.session.execute(
            update(LeadFact)
            .where(LeadFact.lead_id == lead_id, LeadFact.profile.is_not(None))
            .values(profile=kept)
        )

    async def record_scoring(
        self,
        lead_id: uuid.UUID,
        *,
        scored_at: datetime,
        score: float,
        grade: str,
        rubric_version: str,
        fired_rules: list[dict[str, Any]] | None = None,
        persona: str | None = None,
    ) -> None:
        values = {
            "scored_at": scored_at,
            "score": score,
            "grade": grade,
            "rubric_version": rubric_version,
            "fired_rules": fired_rules,
            "persona": persona,
            "first_scored_at": scored_at,
            "ingest_rubric_version": rubric_version,
        }
        latest = LeadFact.scored_at
        first = LeadFact.first_scored_at
        updates = {
            "scored_at": lambda x: func.greatest(latest, x.scored_at),
            # The earliest scoring is the one made at ingestion: its version judged the arrival.
            "first_scored_at": lambda x: _earliest(first, x.first_scored_at),
            "ingest_rubric_version": _bind_follows_earliest(
                "ingest_rubric_version", first, "first_scored_at"
            ),
            **{
                name: _bind_follows_latest(name, latest, "scored_at")
                for name in ("score", "grade", "rubric_version", "fired_rules", "persona")
            },
        }
        await self._upsert(lead_id, values, updates)

    async def record_requalification(
        self, lead_id: uuid.UUID, *, requalified_at: datetime, round_: int
    ) -> None:
        """A re-MQL: the lead came back from nurture and qualified again. Kept apart from the
        first qualification (`mql_at`), so it is never counted as a new MQL."""
        await self._upsert(
            lead_id,
            {"re_mql_at": requalified_at, "qualification_round": round_},
            {
                "re_mql_at": lambda x: func.greatest(LeadFact.re_mql_at, x.re_mql_at),
                "qualification_round": lambda x: func.greatest(
                    LeadFact.qualification_round, x.qualification_round
                ),
            },
        )

    async def record_qualification(
        self,
        lead_id: uuid.UUID,
        *,
        qualified_at: datetime,
        grade: str,
        rubric_version: str,
        sla_tier: str | None,
    ) -> None:
        values = {
            "mql_at": qualified_at,
            "mql_grade": grade,
            "mql_rubric_version": rubric_version,
            "sla_tier": sla_tier,
        }
        first = LeadFact.mql_at
        updates = {
            "mql_at": lambda x: _earliest(first, x.mql_at),
            "mql_grade": _bind_follows_earliest("mql_grade", first, "mql_at"),
            "mql_rubric_version": _bind_follows_earliest("mql_rubric_version", first, "mql_at"),
            # The assignment's tier, once known, is the one the rep was held to.
            "sla_tier": lambda x: case(
                (LeadFact.assigned_at.is_(None), func.coalesce(LeadFact.sla_tier, x.sla_tier)),
                else_=LeadFact.sla_tier,
            ),
        }
        await self._upsert(lead_id, values, updates)

    async def record_assignment(
        self,
        lead_id: uuid.UUID,
        *,
        assigned_at: datetime,
        assignment_id: uuid.UUID,
        rep_id: uuid.UUID,
        sla_tier: str,
        sla_due_at: datetime,
    ) -> None:
        values = {
            "assigned_at": assigned_at,
            "assignment_id": assignment_id,
            "rep_id": rep_id,
            "sla_tier": sla_tier,
            "sla_due_at": sla_due_at,
        }
        first = LeadFact.assigned_at
        updates = {
            "assigned_at": lambda x: _earliest(first, x.assigned_at),
            **{
                name: _bind_follows_earliest(name, first, "assigned_at")
                for name in ("assignment_id", "rep_id", "sla_tier", "sla_due_at")
            },
        }
        await self._upsert(lead_id, values, updates)

    async def record_touch(
        self, lead_id: uuid.UUID, *, touched_at: datetime, channel: str | None = None, contact: bool = False
    ) -> None:
        """A touch: the earliest one is the rep's first touch; the earliest call, email or meeting
        (`contact`) the first real contact. A logged touch (with its `channel`) is also an
        attempt, kept in `lead_attempt` to be counted."""
        values: dict[str, Any] = {"first_touch_at": touched_at}
        updates: dict[str, Any] = {
            "first_touch_at": lambda x: _earliest(LeadFact.first_touch_at, x.first_touch_at)
        }
        if contact:
            values["first_contact_at"] = touched_at
            updates["first_contact_at"] = lambda x: _earliest(LeadFact.first_contact_at, x.first_contact_at)
        await self._upsert(lead_id, values, updates)
        if channel is not None:
            await write(
                self.session,
                _RECORD_ATTEMPT,
                {"lead_id": lead_id, "touched_at": touched_at, "channel": channel},
            )

    async def record_disposition(
        self,
        lead_id: uuid.UUID,
        *,
        stage: Stage,
        dispositioned_at: datetime,
        reason: str | None,
        amount: Decimal | None,
        currency: str | None = None,
    ) -> None:
        """Any disposition is the rep's first touch at the latest; the outcome sets its stage (a
        win's amount keeps its currency)."""
        stage_column = STAGE_COLUMNS[stage]
        name = stage_column.key
        values: dict[str, Any] = {"first_touch_at": dispositioned_at, name: dispositioned_at}
        updates: dict[str, Any] = {
            "first_touch_at": lambda x: _earliest(LeadFact.first_touch_at, x.first_touch_at),
            name: lambda x: _earliest(stage_column, x[name]),
        }
        column = _OUTCOME_DETAIL.get(stage)
        if column is not None:
            values[column] = amount if stage is Stage.WON else reason
            updates[column] = _bind_follows_earliest(column, stage_column, name)
        if stage is Stage.WON:
            values["currency"] = currency
            updates["currency"] = _bind_follows_earliest("currency", stage_column, name)
        await self._upsert(lead_id, values, updates)


def _bind_follows_earliest(name: str, basis: InstrumentedAttribute[Any], basis_name: str) -> Any:
    column = getattr(LeadFact, name)
    return lambda x: _follows_earliest(column, x[name], basis, x[basis_name])


def _bind_follows_latest(name: str, basis: InstrumentedAttribute[Any], basis_name: str) -> Any:
    column = getattr(LeadFact, name)
    return lambda x: _follows_latest(column, x[name], basis, x[basis_name])
