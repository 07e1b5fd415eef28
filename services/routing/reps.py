"""The sales team's use cases: reps, their availability and the holiday calendar.
Transport-free: the caller owns the session and its transaction."""

from __future__ import annotations

import logging
import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.errors import (
    AbsenceNotFound,
    HolidayNotFound,
    RepEmailTaken,
    RepNotFound,
    RepSelfServiceOnly,
)
from services.routing.fallback_queue import assign_queued_leads
from services.routing.models import Rep, RepAbsence, audit
from services.routing.repository import AbsenceRepository, LedgerRepository, RepRepository
from services.routing.rule_versions import ActiveRules
from services.routing.schemas import (
    AbsenceCreate,
    AbsenceRead,
    HolidayRead,
    RepCreate,
    RepRead,
    RepUpdate,
    WorkingHours,
)
from services.routing.sla_repository import HolidayRepository
from shared.audit import SYSTEM_ACTOR, record_change
from shared.contracts import utc_now

log = logging.getLogger(__name__)

# What a rep may set on themselves: their availability and where they are told of their leads.
# Weight and cap are the manager's call.
SELF_SERVICE_FIELDS = frozenset(
    {"active", "timezone", "working_hours", "slack_webhook_url", "slack_user_id", "notify_channels"}
)


async def list_reps(session: AsyncSession) -> list[RepRead]:
    return [_rep_read(rep, assigned) for rep, assigned in await RepRepository(session).all_with_assigned()]


async def get_rep(session: AsyncSession, *, rep_id: uuid.UUID) -> RepRead:
    """One rep's record, as the list shows it (`GET /v1/me` for a rep's own token)."""
    for rep, assigned in await RepRepository(session).all_with_assigned():
        if rep.id == rep_id:
            return _rep_read(rep, assigned)
    raise RepNotFound(f"no rep {rep_id}")


async def register_rep(
    session: AsyncSession, *, rules: ActiveRules, rep: RepCreate, by: str = SYSTEM_ACTOR
) -> RepRead:
    """Add a rep to the team. Each pool they belong to opens their ledger line at its first
    decision, level with the pool, so they get no catch-up burst.

    An active newcomer also drains the fallback queues.
    """
    await LedgerRepository(session).enter_pool(exclusive=True)
    hours = rep.working_hours
    created = await RepRepository(session).add_unless_email_taken(
        id=uuid.uuid4(),
        name=rep.name,
        email=str(rep.email).lower(),
        active=rep.active,
        weight=rep.weight,
        timezone=rep.timezone,
        skills=rep.skills,
        work_start=hours.start if hours else None,
        work_end=hours.end if hours else None,
        work_days=hours.days if hours else [0, 1, 2, 3, 4],
        max_open=rep.max_open,
        max_per_day=rep.max_per_day,
        created_at=utc_now(),
        manager_id=rep.manager_id,
        slack_webhook_url=rep.slack_webhook_url,
        slack_user_id=rep.slack_user_id,
        notify_channels=rep.notify_channels,
    )
    if created is None:
        raise RepEmailTaken(f"a rep with email {rep.email!r} already exists")
    log.info("routing.rep_registered", extra={"rep_id": str(created.id)})
    read = _rep_read(created, 0)
    await _record_rep(session, by=by, action="rep.created", before=None, after=read)
    if created.active:
        await assign_queued_leads(session, rules=rules)
    return read


async def update_rep(
    session: AsyncSession,
    *,
    rules: ActiveRules,
    rep_id: uuid.UUID,
    changes: RepUpdate,
    acting_rep: uuid.UUID | None = None,
    by: str = SYSTEM_ACTOR,
) -> RepRead:
    """Change a rep's switch, weight, hours, caps or skills without disturbing anyone's standing.

    A weight change keeps the rep's standing in each pool (their credit is rebased at the next
    decision, so it applies from now on); a rep switched back on competes from each pool's level;
    either may drain the fallback queues.
    A rep (`acting_rep`) may change only their own switch, time zone and hours, and may not
    switch themselves back on once the SLA policy paused them.
    """
    if acting_rep is not None:
        check_self_service(rep_id, acting_rep, changes.model_fields_set)
    await LedgerRepository(session).enter_pool(exclusive=True)
    reps = RepRepository(session)
    rep = await reps.lock(rep_id)
    if rep is None:
        raise RepNotFound(f"no rep {rep_id}")
    before = _rep_read(rep, 0)
    given = changes.model_fields_set
    if changes.active is True and not rep.active:
        if acting_rep is not None and rep.paused_reason is not None:
            raise RepSelfServiceOnly(f"paused by the SLA policy ({rep.paused_reason}): ask a manager")
        rep.paused_at = rep.paused_reason = None
    for name in ("active", "weight", "timezone", "skills"):
        value = getattr(changes, name)
        if value is not None:
            setattr(rep, name, value)
    if "working_hours" in given:
        hours = changes.working_hours
        rep.work_start = hours.start if hours else None
        rep.work_end = hours.end if hours else None
        rep.work_days = hours.days if hours else [0, 1, 2, 3, 4]
    for name in ("max_open", "max_per_day", "manager_id", "slack_webhook_url", "slack_user_id"):
        if name in given:
            setattr(rep, name, getattr(changes, name))
    if changes.notify_channels is not None:
        rep.notify_channels = [str(channel) for channel in changes.notify_channels]
    await session.flush()
    log.info("routing.rep_updated", extra={"rep_id": str(rep.id), "changed": sorted(given)})
    # A paused rep switched back on is its own action: the SLA policy's pause was overruled.
    resumed = changes.active is True and not before.active
    action = ("rep.resumed" if before.paused_reason else "rep.activated") if resumed else "rep.updated"
    await _record_rep(session, by=by, action=action, before=before, after=_rep_read(rep, 0))
    if rep.active:
        await assign_queued_leads(session, rules=rules)
    return _rep_read(rep, await LedgerRepository(session).assigned_to(rep.id))


async def _record_rep(
    session: AsyncSession, *, by: str, action: str, before: RepRead | None, after: RepRead
) -> None:
    # `assigned` is a running count, not configuration: left out so before/after show the change.
    exclude = {"assigned"}
    await record_change(
        session,
        audit,
        actor=by,
        action=action,
        object_type="rep",
        object_id=str(after.id),
        before=None if before is None else before.model_dump(mode="json", exclude=exclude),
        after=after.model_dump(mode="json", exclude=exclude),
    )


def check_self_service(rep_id: uuid.UUID, acting_rep: uuid.UUID, fields: set[str]) -> None:
    if acting_rep != rep_id:
        raise RepSelfServiceOnly("a rep may change only their own availability")
    managed = fields - SELF_SERVICE_FIELDS
    if managed:
        raise RepSelfServiceOnly(f"only a manager may change {', '.join(sorted(managed))}")


async def add_absence(
    session: AsyncSession,
    *,
    rep_id: uuid.UUID,
    absence: AbsenceCreate,
    acting_rep: uuid.UUID | None,
    by: str = SYSTEM_ACTOR,
) -> AbsenceRead:
    """Book an out-of-office range; the rep gets no leads in it and no catch-up after it."""
    if acting_rep is not None:
        check_self_service(rep_id, acting_rep, set())
    if await RepRepository(session).get(rep_id) is None:
        raise RepNotFound(f"no rep {rep_id}")
    row = RepAbsence(
        id=uuid.uuid4(),
        rep_id=rep_id,
        starts_at=absence.starts_at,
        ends_at=absence.ends_at,
        note=absence.note,
    )
    await AbsenceRepository(session).add(row)
    log.info("routing.absence_added", extra={"rep_id": str(rep_id), "absence_id": str(row.id)})
    read = AbsenceRead.model_validate(row)
    await record_change(
        session,
        audit,
        actor=by,
        action="absence.added",
        object_type="rep",
        object_id=str(rep_id),
        after=read.model_dump(mode="json"),
    )
    return read


async def list_absences(
    session: AsyncSession, *, rep_id: uuid.UUID, acting_rep: uuid.UUID | None
) -> list[AbsenceRead]:
    if acting_rep is not None:
        check_self_service(rep_id, acting_rep, set())
    return [AbsenceRead.model_validate(a) for a in await AbsenceRepository(session).for_rep(rep_id)]


async def remove_absence(
    session: AsyncSession,
    *,
    rep_id: uuid.UUID,
    absence_id: uuid.UUID,
    acting_rep: uuid.UUID | None,
    by: str = SYSTEM_ACTOR,
) -> None:
    if acting_rep is not None:
        check_self_service(rep_id, acting_rep, set())
    absences = AbsenceRepository(session)
    existing = next((a for a in await absences.for_rep(rep_id) if a.id == absence_id), None)
    before = None if existing is None else AbsenceRead.model_validate(existing).model_dump(mode="json")
    if not await absences.remove(rep_id=rep_id, absence_id=absence_id):
        raise AbsenceNotFound(f"rep {rep_id} has no absence {absence_id}")
    await record_change(
        session,
        audit,
        actor=by,
        action="absence.removed",
        object_type="rep",
        object_id=str(rep_id),
        before=before or {"id": str(absence_id)},
    )


# ---- holidays ----------------------------------------------------------------------------------


async def list_holidays(session: AsyncSession) -> list[HolidayRead]:
    return [HolidayRead(day=h.day, name=h.name) for h in await HolidayRepository(session).all()]


async def set_holiday(session: AsyncSession, *, day: date, name: str, by: str = SYSTEM_ACTOR) -> HolidayRead:
    """Declare a day off for the SLA clock. Deadlines already set keep their time."""
    holidays = HolidayRepository(session)
    before = next((h.name for h in await holidays.all() if h.day == day), None)
    await holidays.put(day=day, name=name)
    if before != name:  # idempotent: declaring the same holiday again changes nothing
        await record_change(
            session,
            audit,
            actor=by,
            action="holiday.set",
            object_type="holiday",
            object_id=day.isoformat(),
            before=None if before is None else {"name": before},
            after={"name": name},
        )
    return HolidayRead(day=day, name=name)


async def remove_holiday(session: AsyncSession, *, day: date, by: str = SYSTEM_ACTOR) -> None:
    holidays = HolidayRepository(session)
    before = next((h.name for h in await holidays.all() if h.day == day), None)
    if not await holidays.remove(day):
        raise HolidayNotFound(f"no holiday on {day.isoformat()}")
    await record_change(
        session,
        audit,
        actor=by,
        action="holiday.removed",
        object_type="holiday",
        object_id=day.isoformat(),
        before={"name": before},
    )


def _rep_read(rep: Rep, assigned: int) -> RepRead:
    hours = (
        WorkingHours(start=rep.work_start, end=rep.work_end, days=list(rep.work_days))
        if rep.work_start is not None and rep.work_end is not None
        else None
    )
    return RepRead(
        id=rep.id,
        name=rep.name,
        email=rep.email,
        active=rep.active,
        weight=rep.weight,
        timezone=rep.timezone,
        skills=list(rep.skills),
        working_hours=hours,
        max_open=rep.max_open,
        max_per_day=rep.max_per_day,
        created_at=rep.created_at,
        assigned=assigned,
        manager_id=rep.manager_id,
        paused_at=rep.paused_at,
        paused_reason=rep.paused_reason,
        slack_user_id=rep.slack_user_id,
        slack_webhook_set=rep.slack_webhook_url is not None,
        notify_channels=list(rep.notify_channels or ()),
    )
