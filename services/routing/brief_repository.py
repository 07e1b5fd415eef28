"""SQL of the lead brief: the score explanation, the form answers and the activity timeline."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.brief_models import LeadActivity, LeadBrief

# The timeline a brief shows: the latest activities, enough for a rep to read in ten seconds.
TIMELINE_LENGTH = 50


class BriefRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record_score(
        self,
        lead_id: uuid.UUID,
        *,
        score: float,
        grade: str,
        rubric_version: str,
        fired_rules: list[dict[str, Any]],
        scored_at: datetime,
        now: datetime,
    ) -> float | None:
        """Keep the newest explanation; returns the score it replaced (None: the first, or this
        one is older than what is kept and changed nothing)."""
        previous = await self.session.execute(
            select(LeadBrief.score, LeadBrief.scored_at).where(LeadBrief.lead_id == lead_id).with_for_update()
        )
        row = previous.one_or_none()
        if row is not None and row.scored_at is not None and row.scored_at > scored_at:
            return None
        values = {
            "score": score,
            "grade": grade,
            "rubric_version": rubric_version,
            "fired_rules": fired_rules,
            "scored_at": scored_at,
            "updated_at": now,
        }
        statement = insert(LeadBrief).values(lead_id=lead_id, form_answers={}, **values)
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=[LeadBrief.lead_id], set_=values)
        )
        return row.score if row is not None else None

    async def merge_answers(self, lead_id: uuid.UUID, *, answers: dict[str, Any], now: datetime) -> None:
        """Add a form's answers to the lead's; a later form's answer to the same question wins."""
        statement = insert(LeadBrief).values(
            lead_id=lead_id, fired_rules=[], form_answers=answers, updated_at=now
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[LeadBrief.lead_id],
                set_={
                    "form_answers": LeadBrief.form_answers.op("||")(statement.excluded.form_answers),
                    "updated_at": now,
                },
            )
        )

    async def add_activity(self, row: dict[str, Any]) -> bool:
        """Store one activity; False when its event was stored already."""
        result = await self.session.execute(
            insert(LeadActivity).values(**row).on_conflict_do_nothing().returning(LeadActivity.event_id)
        )
        return result.scalar_one_or_none() is not None

    async def add_activities(self, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
        """Store many activities in one statement; returns the event ids not stored before."""
        if not rows:
            return set()
        result = await self.session.execute(
            insert(LeadActivity).values(rows).on_conflict_do_nothing().returning(LeadActivity.event_id)
        )
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
