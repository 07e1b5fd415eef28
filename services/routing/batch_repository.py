"""The multi-row statements of a batched assignment (kept apart from repository.py by size).

Each is `INSERT/UPDATE ... FROM unnest(arrays)`: one statement text for any batch size, so
PostgreSQL plans it once per connection and the driver encodes the arrays in C."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import roundrobin
from services.routing.models import Assignment

_ADD_ASSIGNMENTS = text(
    "INSERT INTO routing.assignment (id, lead_id, rep_id, status, sla_tier, sla_minutes, sla_due_at, "
    "assigned_at, qualified_at, lead, strategy, decision, qualified_event_id, correlation_id, reassignments) "
    "SELECT u.id, u.lead_id, u.rep_id, 'open', u.sla_tier, u.sla_minutes, u.sla_due_at, u.assigned_at, "
    "u.qualified_at, CAST(u.lead AS jsonb), u.strategy, CAST(u.decision AS jsonb), u.qualified_event_id, "
    "u.correlation_id, 0 "
    "FROM unnest(CAST(:id AS uuid[]), CAST(:lead_id AS uuid[]), CAST(:rep_id AS uuid[]), "
    "CAST(:sla_tier AS varchar[]), CAST(:sla_minutes AS integer[]), CAST(:sla_due_at AS timestamptz[]), "
    "CAST(:assigned_at AS timestamptz[]), CAST(:qualified_at AS timestamptz[]), CAST(:lead AS text[]), "
    "CAST(:strategy AS varchar[]), CAST(:decision AS text[]), CAST(:qualified_event_id AS uuid[]), "
    "CAST(:correlation_id AS uuid[])) "
    "AS u(id, lead_id, rep_id, sla_tier, sla_minutes, sla_due_at, assigned_at, qualified_at, lead, "
    "strategy, decision, qualified_event_id, correlation_id) "
    "ON CONFLICT (lead_id) DO NOTHING RETURNING lead_id"
)
_SCHEDULE_BREACHES = text(
    "INSERT INTO routing.sla_timer (id, assignment_id, rep_id, due_at, kind, reminders_planned) "
    "SELECT gen_random_uuid(), a, r, d, 'breach', false "
    "FROM unnest(CAST(:assignment_id AS uuid[]), CAST(:rep_id AS uuid[]), CAST(:due_at AS timestamptz[])) "
    "AS u(a, r, d)"
)
_CREDIT_LINES = text(
    "UPDATE routing.rep_ledger AS l SET credit = u.credit, weight = u.weight, assigned = l.assigned + u.n, "
    "last_assigned_at = u.at, last_share = u.share "
    "FROM unnest(CAST(:pool AS varchar[]), CAST(:rep_id AS uuid[]), CAST(:credit AS float8[]), "
    "CAST(:weight AS integer[]), CAST(:n AS integer[]), CAST(:at AS timestamptz[]), "
    "CAST(:share AS float8[])) AS u(pool, rep_id, credit, weight, n, at, share) "
    "WHERE l.pool = u.pool AND l.rep_id = u.rep_id"
)
_COUNT_DAYS = text(
    "INSERT INTO routing.rep_day_count (rep_id, day, assigned) "
    "SELECT * FROM unnest(CAST(:rep_id AS uuid[]), CAST(:day AS date[]), CAST(:n AS integer[])) "
    "ON CONFLICT (rep_id, day) DO UPDATE SET assigned = routing.rep_day_count.assigned + excluded.assigned"
)


class AssignmentBatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def holders(self, lead_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        """The rep holding each of these leads that has an assignment already."""
        result = await self.session.execute(
            select(Assignment.lead_id, Assignment.rep_id).where(Assignment.lead_id.in_(lead_ids))
        )
        return dict(result.all())

    async def add_assignments(self, rows: Sequence[Mapping[str, Any]]) -> set[uuid.UUID]:
        """Insert open assignments (`service.assignment_values` rows); returns the leads inserted,
        leaving out those that already had one (the unique lead_id)."""
        if not rows:
            return set()
        columns = (
            "id",
            "lead_id",
            "rep_id",
            "sla_tier",
            "sla_minutes",
            "sla_due_at",
            "assigned_at",
            "qualified_at",
            "strategy",
            "qualified_event_id",
            "correlation_id",
        )
        params: dict[str, list[Any]] = {name: [row[name] for row in rows] for name in columns}
        params["lead"] = [json.dumps(row["lead"]) for row in rows]
        params["decision"] = [json.dumps(row["decision"]) for row in rows]
        result = await self.session.execute(_ADD_ASSIGNMENTS, params)
        return set(result.scalars().all())

    async def schedule_breaches(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """A first-touch (breach) timer for each new assignment, reminders to be planned."""
        if rows:
            await self.session.execute(
                _SCHEDULE_BREACHES,
                {
                    "assignment_id": [row["id"] for row in rows],
                    "rep_id": [row["rep_id"] for row in rows],
                    "due_at": [row["sla_due_at"] for row in rows],
                },
            )

    async def credit_lines(
        self, credited: Mapping[tuple[str, uuid.UUID], tuple[roundrobin.Standing, int]]
    ) -> None:
        """Store each credited ledger line's final standing, `n` more assignments counted on it.
        Each standing is `roundrobin.credited` of the one picked, so its `last_share` is the
        share the rep was picked at, as `LedgerRepository.credit_assignment` stores it."""
        if not credited:
            return
        lines = [standing for standing, _ in credited.values()]
        await self.session.execute(
            _CREDIT_LINES,
            {
                "pool": [s.pool for s in lines],
                "rep_id": [s.rep_id for s in lines],
                "credit": [s.credit for s in lines],
                "weight": [s.weight for s in lines],
                "n": [n for _, n in credited.values()],
                "at": [s.last_assigned_at for s in lines],
                "share": [s.last_share for s in lines],
            },
        )

    async def count_days(self, counts: Mapping[tuple[uuid.UUID, date], int]) -> None:
        """Add `n` to each rep's count of the day (their own calendar's)."""
        if counts:
            keys = sorted(counts)
            await self.session.execute(
                _COUNT_DAYS,
                {"rep_id": [r for r, _ in keys], "day": [d for _, d in keys], "n": [counts[k] for k in keys]},
            )
