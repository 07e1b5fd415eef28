"""All of ingest's SQL."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.models import Lead, Submission


class LeadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def resolve_by_email(self, email: str, *, seen_at: datetime) -> uuid.UUID:
        """The lead id for this email, creating the lead on first sight (race-free upsert)."""
        statement = (
            insert(Lead)
            .values(id=uuid.uuid4(), email=email, first_seen_at=seen_at, last_seen_at=seen_at)
            .on_conflict_do_update(index_elements=[Lead.email], set_={"last_seen_at": seen_at})
            .returning(Lead.id)
        )
        lead_id: uuid.UUID = (await self.session.execute(statement)).scalar_one()
        return lead_id


class SubmissionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_idempotency_key(self, key: str) -> Submission | None:
        result = await self.session.execute(select(Submission).where(Submission.idempotency_key == key))
        return result.scalar_one_or_none()

    async def add_unless_key_taken(
        self,
        *,
        lead_id: uuid.UUID,
        form_id: str,
        event_id: uuid.UUID,
        idempotency_key: str | None,
        request_hash: str,
        fields: dict[str, Any],
        received_at: datetime,
    ) -> bool:
        """Insert the submission; False when a concurrent request already took the key."""
        statement = (
            insert(Submission)
            .values(
                id=uuid.uuid4(),
                lead_id=lead_id,
                form_id=form_id,
                event_id=event_id,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                fields=fields,
                received_at=received_at,
            )
            .on_conflict_do_nothing(index_elements=[Submission.idempotency_key])
            .returning(Submission.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None
