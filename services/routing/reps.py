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
from services.routing.models import Rep, RepAbsence
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


async def register_rep(session: AsyncSession, *, rules: ActiveRules, rep: RepCreate) -> RepRead:
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
    if created.active:
        await assign_queued_leads(session, rules=rules)
    return _rep_read(created, 0)


async def update_rep(
    session: AsyncSession,
    *,
    rules: ActiveRules,
    rep_id: uuid.UUID,
    changes: RepUpdate,
    acting_rep: uuid.UUID | None = None,
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
    if rep.active:
        await assign_queued_leads(session, rules=rules)
    return _rep_read(rep, await LedgerRepository(session).assigned_to(rep.id))


def check_self_service(rep_id: uuid.UUID, acting_rep: uuid.UUID, fields: set[str]) -> None:
    if acting_rep != rep_id:
        raise RepSelfServiceOnly("a rep may change only their own availability")
    managed = fields - SELF_SERVICE_FIELDS
    if managed:
        raise RepSelfServiceOnly(f"only a manager may change {', '.join(sorted(managed))}")


async def add_absence(
    session: AsyncSession, *, rep_id: uuid.UUID, absence: AbsenceCreate, acting_rep: uuid.UUID | None
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
    return AbsenceRead.model_validate(row)


async def list_absences(
    session: AsyncSession, *, rep_id: uuid.UUID, acting_rep: uuid.UUID | None
) -> list[AbsenceRead]:
    if acting_rep is not None:
        check_self_service(rep_id, acting_rep, set())
    return [AbsenceRead.model_validate(a) for a in await AbsenceRepository(session).for_rep(rep_id)]


async def remove_absence(
    session: AsyncSession, *, rep_id: uuid.UUID, absence_id: uuid.UUID, acting_rep: uuid.UUID | None
) -> None:
    if acting_rep is not None:
        check_self_service(rep_id, acting_rep, set())
    if not await AbsenceRepository(session).remove(rep_id=rep_id, absence_id=absence_id):
        raise AbsenceNotFound(f"rep {rep_id} has no absence {absence_id}")


# ---- holidays ----------------------------------------------------------------------------------


async def list_holidays(session: AsyncSession) -> list[HolidayRead]:
    return [HolidayRead(day=h.day, name=h.name) for h in await HolidayRepository(session).all()]


async def set_holiday(session: AsyncSession, *, day: date, name: str) -> HolidayRead:
    """Declare a day off for the SLA clock. Deadlines already set keep their time."""
    await HolidayRepository(session).put(day=day, name=name)
    return HolidayRead(day=day, name=name)


async def remove_holiday(session: AsyncSession, *, day: date) -> None:
    if not await HolidayRepository(session).remove(day):
        raise HolidayNotFound(f"no holiday on {day.isoformat()}")


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
