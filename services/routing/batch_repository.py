"""The statements of a batched assignment (kept apart from repository.py by size): what it reads
before locking the reps, and what it writes.

One round trip for the batch's assignments, their breach timers, the credited ledger lines, the
day counts and the staged `lead.assigned` events: data-modifying CTEs over `unnest(arrays)`,
one statement text for any batch size, so PostgreSQL plans it once per connection and the
driver encodes the arrays in C."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import String, and_, any_, bindparam, case, false, func, select, text, true
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import roundrobin
from services.routing.models import Assignment, Holiday, RepAbsence, RuleSetRecord, outbox
from shared.contracts import Envelope
from shared.outbox import announce, insert_sql, staged_columns

# A timer only for a row actually inserted, as the single path schedules one only then; a lead
# assigned meanwhile by another transaction is left out of RETURNING and the caller gives up.
_RECORD = text(
    "WITH a AS ("
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
    "ON CONFLICT (lead_id) DO NOTHING RETURNING id, lead_id, rep_id, sla_due_at), "
    "t AS ("
    "INSERT INTO routing.sla_timer (id, assignment_id, rep_id, due_at, kind, reminders_planned) "
    "SELECT gen_random_uuid(), a.id, a.rep_id, a.sla_due_at, 'breach', false FROM a), "
    "l AS ("
    "UPDATE routing.rep_ledger AS l SET credit = c.credit, weight = c.weight, assigned = l.assigned + c.n, "
    "last_assigned_at = c.at, last_share = c.share "
    "FROM unnest(CAST(:pool AS varchar[]), CAST(:line_rep_id AS uuid[]), CAST(:credit AS float8[]), "
    "CAST(:weight AS integer[]), CAST(:n AS integer[]), CAST(:at AS timestamptz[]), "
    "CAST(:share AS float8[])) AS c(pool, rep_id, credit, weight, n, at, share) "
    "WHERE l.pool = c.pool AND l.rep_id = c.rep_id), "
    "d AS ("
    "INSERT INTO routing.rep_day_count (rep_id, day, assigned) "
    "SELECT * FROM unnest(CAST(:day_rep_id AS uuid[]), CAST(:day AS date[]), CAST(:day_n AS integer[])) "
    "ON CONFLICT (rep_id, day) DO UPDATE SET assigned = routing.rep_day_count.assigned + excluded.assigned), "
    f"o AS ({insert_sql(outbox)}) "
    "SELECT lead_id FROM a"
)
_ASSIGNMENT_COLUMNS = (
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

# What a batch reads before it locks the reps, in one round trip (one snapshot): the same rows
# as `AbsenceRepository.overlapping`, `RuleSetRepository.active_version`, the leads' current
# assignments and `HolidayRepository.days_from`; under the pool lock (taken by the statement
# before), so a rule set activated meanwhile is seen. An aggregate over no rows is one row of NULLs.
_absent = (
    select(
        func.array_agg(RepAbsence.rep_id).label("rep_ids"),
        func.array_agg(RepAbsence.starts_at).label("starts"),
        func.array_agg(RepAbsence.ends_at).label("ends"),
    )
    .where(RepAbsence.starts_at <= bindparam("until"), RepAbsence.ends_at > bindparam("since"))
    .subquery()
)
_lead_ids = bindparam("lead_ids", type_=ARRAY(UUID(as_uuid=True)))
_channel = bindparam("channel", type_=String)
_held = (
    select(
        func.array_agg(Assignment.lead_id).label("lead_ids"),
        func.array_agg(Assignment.rep_id).label("rep_ids"),
    )
    # One statement text for any batch size (an IN list would be planned once per size).
    .where(Assignment.lead_id == any_(_lead_ids))
    .subquery()
)
# The outbox notification (`shared.outbox.announce`), sent when a lead of the batch has no
# assignment yet (`lead_ids` are distinct) and a round trip would otherwise carry it.
_notify = case(
    (
        and_(
            _channel.is_not(None),
            func.coalesce(func.cardinality(_held.c.lead_ids), 0) < func.cardinality(_lead_ids),
        ),
        select(true()).select_from(func.pg_notify(_channel, "")).scalar_subquery(),
    ),
    else_=false(),
)
_BEFORE_LOCK = select(
    _absent.c.rep_ids,
    _absent.c.starts,
    _absent.c.ends,
    select(RuleSetRecord.version).where(RuleSetRecord.status == "active").scalar_subquery(),
    _held.c.lead_ids,
    _held.c.rep_ids,
    select(func.array_agg(Holiday.day)).where(Holiday.day >= bindparam("holidays_from")).scalar_subquery(),
    _notify,
).select_from(_absent.join(_held, true()))


@dataclass(frozen=True, slots=True)
class BeforeLock:
    absences: dict[uuid.UUID, list[tuple[datetime, datetime]]]
    rule_set_version: str | None
    holders: dict[uuid.UUID, uuid.UUID]
    holidays: frozenset[date]
    notified: bool


Credited = Mapping[tuple[str, uuid.UUID], tuple[roundrobin.Standing, int]]
Days = Mapping[tuple[uuid.UUID, date], int]


class AssignmentBatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def before_lock(
        self,
        *,
        since: datetime,
        until: datetime,
        lead_ids: Collection[uuid.UUID],
        holidays_from: date,
        notify: str | None,
    ) -> BeforeLock:
        """Absences covering some instant in [since, until] (per rep, as (start, end)), the
        active rule set version, the rep holding each of these leads that has an assignment
        already, and the holidays from `holidays_from` on. Notifies channel `notify` (if any)
        when some of these leads have no assignment, and says whether it did."""
        result = await self.session.execute(
            _BEFORE_LOCK,
            {
                "since": since,
                "until": until,
                "lead_ids": list(lead_ids),
                "holidays_from": holidays_from,
                "channel": notify,
            },
        )
        absent, starts, ends, version, held, holding, days, notified = result.one()
        absences: dict[uuid.UUID, list[tuple[datetime, datetime]]] = {}
        for rep_id, starts_at, ends_at in zip(absent or (), starts or (), ends or (), strict=True):
            absences.setdefault(rep_id, []).append((starts_at, ends_at))
        return BeforeLock(
            absences=absences,
            rule_set_version=version,
            holders=dict(zip(held or (), holding or (), strict=True)),
            holidays=frozenset(days or ()),
            notified=notified,
        )

    async def record(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        credited: Credited,
        days: Days,
        events: Sequence[Envelope],
    ) -> set[uuid.UUID]:
        """Insert open assignments (`assignment.assignment_values` rows) with a breach timer each
        (reminders to be planned); store each credited ledger line's last standing with `n`
        more assignments counted on it, add `n` to each rep's count of the day, and stage
        `events`. Returns the leads inserted: one that already had an assignment is left out
        (the caller then rolls the whole batch back)."""
        if not rows:
            return set()
        params: dict[str, list[Any]] = {name: [row[name] for row in rows] for name in _ASSIGNMENT_COLUMNS}
        # pydantic's encoder (Rust) writes the same JSON as `json.dumps`, several times faster.
        params["lead"] = [to_json(row["lead"]).decode() for row in rows]
        params["decision"] = [to_json(row["decision"]).decode() for row in rows]
        # Each standing is `roundrobin.credited` of the one picked: `last_share` is the share
        # the rep was picked at, as `LedgerRepository.credit_assignment` stores it.
        lines = [standing for standing, _ in credited.values()]
        params.update(
            pool=[s.pool for s in lines],
            line_rep_id=[s.rep_id for s in lines],
            credit=[s.credit for s in lines],
            weight=[s.weight for s in lines],
            n=[n for _, n in credited.values()],
            at=[s.last_assigned_at for s in lines],
            share=[s.last_share for s in lines],
        )
        # Sorted, so two writers of the same days upsert them in one order.
        keys = sorted(days)
        params.update(
            day_rep_id=[r for r, _ in keys], day=[d for _, d in keys], day_n=[days[k] for k in keys]
        )
        params.update(staged_columns(self.session, events))
        result = await self.session.execute(_RECORD, params)
        await announce(self.session, outbox)
        return set(result.scalars().all())
