"""Assigning a consumer batch of qualified leads at once: the effect of `assignment.assign_lead`
applied to each event in turn, in one transaction and a handful of statements.

The batch takes the pool lock once and locks every rep once, in id order as every decider
does, so no other decision, cap change or hand-over touches the team until it commits: the
other replica's batches wait, so whatever needs no lock is done before it. The team's state
(open and daily counts, ledger standings; absences, read before) is then read once and kept
current in memory while each lead goes through the same rule walk and pick as a single
decision (`decision.decide_with`, `choice.choose_in_pool`); the rows are written a chunk at a
time, each while the next is decided.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import commitments, roundrobin
from services.routing.assignment import (
    assigned_event,
    assignment_values,
    log_assigned,
    qualification_facts,
    queue_lead,
)
from services.routing.batch_repository import AssignmentBatchRepository, Credited, Days
from services.routing.calendar import HolidaysFrom, add_business_minutes
from services.routing.choice import Absences, Decision, PoolView, Workload, availability_of, unavailable
from services.routing.decision import (
    Question,
    ask,
    decide_with,
    load_workload,
    open_pool,
    wanted_members,
    weights_in,
)
from services.routing.eligibility import RepAvailability, local_day
from services.routing.metrics import DECISION_SECONDS
from services.routing.models import Rep, outbox
from services.routing.notifications import record_notifications
from services.routing.rep_notices import notice_rows
from services.routing.repository import LedgerRepository, RepRepository
from services.routing.rule_versions import ActiveRules
from services.routing.rules import Pool, RepRef, RuleSet
from shared.contracts import LeadAssigned, LeadQualified, utc_now
from shared.outbox import announce, notified, notify_due

# Absences are read once for the instants a batch decides at; a batch this slow is retried
# one event at a time rather than decided on a stale calendar.
HORIZON = timedelta(minutes=5)
# Leads per write: the last chunk's write is the only one not overlapped by deciding.
CHUNK = 50


@dataclass(frozen=True, slots=True)
class NewAssignment:
    """What `lead.assigned` tells of a row the batch writes (no ORM object per lead)."""

    id: uuid.UUID
    lead_id: uuid.UUID
    strategy: str
    sla_tier: str
    sla_due_at: datetime
    assigned_at: datetime
    qualified_at: datetime
    correlation_id: uuid.UUID

    @classmethod
    def of(cls, row: dict[str, Any]) -> NewAssignment:
        return cls(*(row[name] for name in cls.__slots__))


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What became of one event: `AssignOutcome` without the loaded assignment."""

    result: Literal["assigned", "already_assigned", "queued"]
    lead_id: uuid.UUID
    rep_id: uuid.UUID | None = None
    queue: str | None = None


class BatchAbandoned(RuntimeError):
    """The batch met what only the per-event path handles; the consumer rolls it back and
    hands its events to `assign_lead` one by one."""


class Writes:
    """The batch's rows on their way to the database, a chunk at a time, while the next chunk is
    decided: PostgreSQL inserts one while Python decides the other, which shortens the time the
    reps stay locked. One statement at a time on the session, so whoever needs it waits for
    `settle` first."""

    def __init__(self, batch: AssignmentBatchRepository) -> None:
        self.batch = batch
        self.pending: asyncio.Task[set[uuid.UUID]] | None = None
        self.expected = 0

    async def send(
        self, rows: list[dict[str, Any]], *, credited: Credited, days: Days, events: list[LeadAssigned]
    ) -> None:
        await self.settle()
        self.expected = len(rows)
        self.pending = asyncio.create_task(
            self.batch.record(rows, credited=credited, days=days, events=events)
        )
        # Once round the loop: the task sends its statement and waits for the answer.
        await asyncio.sleep(0)

    async def settle(self) -> None:
        """Wait for the chunk in flight; raises `BatchAbandoned` when one of its leads turned
        out to be assigned by another transaction (left out of the insert)."""
        pending, self.pending = self.pending, None
        if pending is not None and len(await pending) != self.expected:
            raise BatchAbandoned("a lead of the batch was assigned by another transaction")

    async def abandon(self) -> None:
        """Let the chunk in flight finish, whatever its outcome, so the session can roll back."""
        pending, self.pending = self.pending, None
        if pending is not None:
            await asyncio.gather(pending, return_exceptions=True)


class HeldTeam:
    """Every rep, locked for the batch, and their state as the batch's own decisions left it."""

    def __init__(self, session: AsyncSession, reps: Sequence[Rep], workload: Workload) -> None:
        self.session = session
        self.writes = Writes(AssignmentBatchRepository(session))
        self.reps = reps
        self.workload = workload
        self.by_id = {rep.id: rep for rep in reps}
        self.by_email = {rep.email: rep.id for rep in reps}
        self.pools: dict[str, PoolView] = {}
        self.calendars: dict[uuid.UUID, RepAvailability] = {}
        # What the batch's next write stores: each credited ledger line's last standing and how
        # many leads it took, and each rep's new leads per day, since the previous write.
        self.credited: dict[tuple[str, uuid.UUID], tuple[roundrobin.Standing, int]] = {}
        self.days: dict[tuple[uuid.UUID, date], int] = {}

    @classmethod
    async def hold(
        cls, session: AsyncSession, *, since: datetime, until: datetime, absences: Absences
    ) -> HeldTeam:
        reps = await RepRepository(session).lock_candidates(None)
        workload = await load_workload(session, reps, since=since, until=until, absences=absences)
        return cls(session, reps, workload)

    async def named_rep(self, target: RepRef) -> Rep | None:
        rep_id = target.rep_id or self.by_email.get(target.email)
        return None if rep_id is None else self.by_id.get(rep_id)

    async def claim(
        self, rep: Rep, *, at: datetime, required: frozenset[str], excluding: uuid.UUID | None
    ) -> str | None:
        return unavailable(rep, self.workload, at=at, required=required, excluding=excluding)

    async def pool_view(self, pool: Pool, *, at: datetime) -> tuple[PoolView, Workload]:
        view = self.pools.get(pool.id)
        if view is None:
            await self.writes.settle()
            wanted = wanted_members(pool, self.by_email)
            members = [rep for rep in self.reps if wanted is None or rep.id in wanted]
            view = await open_pool(self.session, pool.id, members, weights_in(members, wanted), create=True)
            self.pools[pool.id] = view
        return view, self.workload

    def calendar(self, rep: Rep) -> RepAvailability:
        """The rep's hours and days, as the SLA clock reads them (`assignment.sla_due_at_for`)."""
        known = self.calendars.get(rep.id)
        if known is None:
            known = self.calendars[rep.id] = availability_of(rep, 0)
        return known

    def credit(self, decision: Decision, *, at: datetime) -> None:
        """What `assignment.hand_over` stores for a decision, applied to the held state."""
        rep, standing = decision.chosen, decision.standing
        assert rep is not None
        day = local_day(self.calendar(rep).timezone, at)
        self.workload.count(rep.id, day)
        self.days[(rep.id, day)] = self.days.get((rep.id, day), 0) + 1
        if standing is not None:
            credited = roundrobin.credited(standing, at=at)
            self.pools[standing.pool].standings[rep.id] = credited
            _, taken = self.credited.get((standing.pool, rep.id), (credited, 0))
            self.credited[(standing.pool, rep.id)] = (credited, taken + 1)


async def assign_leads(
    session: AsyncSession, *, rules: ActiveRules, events: Sequence[LeadQualified]
) -> list[BatchOutcome]:
    """Assign qualified leads, in order, as `assign_lead` would one by one: each to the next
    eligible rep or into the fallback queue, once per lead however often it appears.

    Raises `BatchAbandoned` when a lead turns out to be assigned by someone else meanwhile
    (holders are looked up before the reps are locked).
    """
    if not events:
        return []
    await LedgerRepository(session).enter_pool(exclusive=False)
    batch = AssignmentBatchRepository(session)
    # Everything that needs no rep lock comes first: the other replica's batch may hold them.
    # That includes the absences, which are written without it: read now or under the lock, a
    # batch decides as if it came before any absence committed meanwhile.
    started = utc_now()
    earliest = min(e.payload.qualified_at.date() for e in events)
    read = await batch.before_lock(
        since=started,
        until=started + HORIZON,
        lead_ids={e.lead_id for e in events},
        holidays_from=earliest - timedelta(days=1),
        notify=notify_due(session, outbox),
    )
    absences, holders = read.absences, read.holders
    rule_set = await rules.of_version(session, read.rule_set_version)
    holidays = HolidaysFrom(read.holidays)
    asked = []
    for event in events:
        lead = event.payload.lead.model_dump(mode="json")
        asked.append((event, lead, ask(rule_set, lead, qualification_facts(event)), uuid.uuid4()))
    # Delivered at commit whenever it is sent: sent before the lock (by the read above, when it
    # needs a round trip), it costs the locked reps none (should every lead be queued after
    # all, a relay wakes to find nothing).
    if read.notified:
        notified(session, outbox)
    elif any(e.lead_id not in holders for e in events):
        await announce(session, outbox)
    team = await HeldTeam.hold(session, since=started, until=started + HORIZON, absences=absences)
    try:
        outcomes = await _decide_and_write(session, team, rule_set, asked, holders, holidays, started)
    except BaseException:
        await team.writes.abandon()
        raise
    return outcomes


async def _decide_and_write(
    session: AsyncSession,
    team: HeldTeam,
    rule_set: RuleSet,
    asked: Sequence[tuple[LeadQualified, dict[str, Any], Question, uuid.UUID]],
    holders: dict[uuid.UUID, uuid.UUID],
    holidays: HolidaysFrom,
    started: datetime,
) -> list[BatchOutcome]:
    outcomes: list[BatchOutcome] = []
    rows: list[dict[str, Any]] = []
    announced: list[tuple[NewAssignment, Rep, LeadQualified]] = []
    logged: list[tuple[NewAssignment, Rep]] = []
    # What the reps are told, on the channels they chose, as `assignment.hand_over` tells them.
    notices: list[dict[str, Any]] = []
    now = started
    for event, lead, question, assignment_id in asked:
        if event.lead_id in holders:
            outcomes.append(BatchOutcome("already_assigned", event.lead_id, holders[event.lead_id]))
            continue
        # Distinct instants, as one transaction per lead has: ties in the ledger go to whoever
        # was assigned longest ago.
        now = max(utc_now(), now + timedelta(microseconds=1))
        if now >= started + HORIZON:
            raise BatchAbandoned(f"the batch ran past {HORIZON} of absences read")
        with DECISION_SECONDS.time():
            decision = await decide_with(team, rule_set, question, at=now)
        if decision.chosen is None:
            await team.writes.settle()
            await queue_lead(session, event=event, decision=decision, at=now)
            outcomes.append(BatchOutcome("queued", event.lead_id, queue=decision.queue))
            continue
        start, minutes = event.payload.qualified_at, event.payload.sla_minutes
        calendar = team.calendar(decision.chosen)
        due = add_business_minutes(start, minutes, rep=calendar, holidays=holidays.since(start))
        row = assignment_values(
            event, decision, lead=lead, at=now, clock_start=start, sla_due_at=due, assignment_id=assignment_id
        )
        team.credit(decision, at=now)
        holders[event.lead_id] = decision.chosen.id
        notices += notice_rows(
            decision.chosen,
            kind="lead.assigned",
            at=now,
            assignment_id=assignment_id,
            lead_id=event.lead_id,
            lead=lead,
            qualification=qualification_facts(event),
            sla_due_at=due,
        )
        rows.append(row)
        announced.append((NewAssignment.of(row), decision.chosen, event))
        outcomes.append(BatchOutcome("assigned", event.lead_id, decision.chosen.id))
        if len(rows) == CHUNK:
            await _send(team, rows, announced)
            logged += [(a, rep) for a, rep, _ in announced]
            rows, announced = [], []
    if rows:
        await _send(team, rows, announced)
        logged += [(a, rep) for a, rep, _ in announced]
    await team.writes.settle()
    await record_notifications(session, notices)
    await commitments.start_accept_clocks(
        session, [commitments.Hold(a.id, rep, a.sla_tier, a.assigned_at) for a, rep in logged]
    )
    for assignment, rep in logged:
        log_assigned(assignment, rep)
    return outcomes


async def _send(
    team: HeldTeam, rows: list[dict[str, Any]], announced: list[tuple[NewAssignment, Rep, LeadQualified]]
) -> None:
    staged = [assigned_event(a, rep, at=a.assigned_at, caused_by=event) for a, rep, event in announced]
    credited, days = team.credited, team.days
    team.credited, team.days = {}, {}
    await team.writes.send(rows, credited=credited, days=days, events=staged)
