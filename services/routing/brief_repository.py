"""SQL of the lead brief: the score explanation, the form answers and the activity timeline."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from datetime import datetime
from typing import Any, NamedTuple, cast

from pydantic_core import to_json
from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.brief_models import LeadActivity, LeadBrief

# Written through the table, not the ORM's bulk path, which compiles its statement for each batch.
_BRIEF = cast(Table, LeadBrief.__table__)

# Over `unnest(arrays)`: one statement text for any batch size, where a multi-row VALUES was
# compiled anew for each batch (with the reminders', a fifth of routing's CPU at 300 MQL/s).
_ADD_ACTIVITIES = text(
    "INSERT INTO routing.lead_activity "
    "(event_id, lead_id, activity_type, occurred_at, subject, campaign, properties) "
    "SELECT u.event_id, u.lead_id, u.activity_type, u.occurred_at, u.subject, u.campaign, "
    "CAST(u.properties AS jsonb) "
    "FROM unnest(CAST(:event_id AS uuid[]), CAST(:lead_id AS uuid[]), CAST(:activity_type AS varchar[]), "
    "CAST(:occurred_at AS timestamptz[]), CAST(:subject AS text[]), CAST(:campaign AS text[]), "
    "CAST(:properties AS text[])) "
    "AS u(event_id, lead_id, activity_type, occurred_at, subject, campaign, properties) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)
_ACTIVITY_COLUMNS = ("event_id", "lead_id", "activity_type", "occurred_at", "subject", "campaign")

# The timeline a brief shows: the latest activities, enough for a rep to read in ten seconds.
TIMELINE_LENGTH = 50


class KeptScore(NamedTuple):
    score: float | None
    scored_at: datetime | None


class BriefRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def scores_for_update(self, lead_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, KeptScore]:
        """The kept score of each lead that has a brief, its row locked until the transaction ends."""
        result = await self.session.execute(
            select(LeadBrief.lead_id, LeadBrief.score, LeadBrief.scored_at)
            .where(LeadBrief.lead_id.in_(lead_ids))
            .order_by(LeadBrief.lead_id)  # one lock order for every writer
            .with_for_update()
        )
        return {row.lead_id: KeptScore(row.score, row.scored_at) for row in result}

    async def upsert_scores(self, rows: list[dict[str, Any]]) -> None:
        """Each lead's newest explanation (`lead_id`, `score`, `grade`, `rubric_version`,
        `fired_rules`, `scored_at`, `updated_at`), one row per lead, in one statement."""
        if not rows:
            return
        statement = insert(_BRIEF)
        excluded = statement.excluded
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[_BRIEF.c.lead_id],
                set_={name: excluded[name] for name in rows[0] if name != "lead_id"},
            ),
            [{"form_answers": {}, **row} for row in sorted(rows, key=lambda row: row["lead_id"])],
        )

    async def merge_answers_of(self, answers: dict[uuid.UUID, dict[str, Any]], *, now: datetime) -> None:
        """`merge_answers` for many leads (one row each) in one statement."""
        if not answers:
            return
        statement = insert(_BRIEF)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[_BRIEF.c.lead_id],
                set_={
                    "form_answers": _BRIEF.c.form_answers.op("||")(statement.excluded.form_answers),
                    "updated_at": statement.excluded.updated_at,
                },
            ),
            [
                {"lead_id": lead_id, "fired_rules": [], "form_answers": answers[lead_id], "updated_at": now}
                for lead_id in sorted(answers)
            ],
        )

    async def add_activities(self, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
        """Store many activities in one statement; returns the event ids not stored before."""
        if not rows:
            return set()
        params: dict[str, list[Any]] = {name: [row[name] for row in rows] for name in _ACTIVITY_COLUMNS}
        params["properties"] = [to_json(row["properties"]).decode() for row in rows]
        result = await self.session.execute(_ADD_ACTIVITIES, params)
        return set(result.scalars().all())

    async def briefs(self, lead_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, LeadBrief]:
        if not lead_ids:
            return {}
        result = await self.session.execute(select(LeadBrief).where(LeadBrief.lead_id.in_(lead_ids)))
        return {brief.lead_id: brief for brief in result.scalars().all()}

    async def timelines(self, lead_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[LeadActivity]]:
        """Each lead's latest activities, newest first, in one statement for a whole queue."""
        if not lead_ids:
            return {}
        newest = (
            func.row_number()
            .over(partition_by=LeadActivity.lead_id, order_by=LeadActivity.occurred_at.desc())
            .label("newest")
        )
        ranked = select(LeadActivity, newest).where(LeadActivity.lead_id.in_(lead_ids)).subquery()
        result = await self.session.execute(
            select(LeadActivity)
            .join(ranked, LeadActivity.event_id == ranked.c.event_id)
            .where(ranked.c.newest <= TIMELINE_LENGTH)
            .order_by(LeadActivity.lead_id, LeadActivity.occurred_at.desc())
        )
        timelines: dict[uuid.UUID, list[LeadActivity]] = defaultdict(list)
        for activity in result.scalars().all():
            timelines[activity.lead_id].append(activity)
        return timelines

    async def erase(self, lead_id: uuid.UUID) -> None:
        """Forget what the lead answered and did: a brief is all personal data."""
        await self.session.execute(delete(LeadActivity).where(LeadActivity.lead_id == lead_id))
        await self.session.execute(delete(LeadBrief).where(LeadBrief.lead_id == lead_id))
