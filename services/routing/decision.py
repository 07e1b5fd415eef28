"""Running a lead through the rules: which rule decides, who may take the lead, who is next, and
the trace that says why. The rules are walked once, here; what they ask about the team comes
from a `Team`: the database for a single decision, a batch's memory for many."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.choice import (
    STRATEGY,
    Absences,
    Decision,
    PoolView,
    Workload,
    choose_in_pool,
    opened_standings,
    unavailable,
)
from services.routing.conditions import FieldValue
from services.routing.models import Rep
from services.routing.repository import (
    AbsenceRepository,
    AssignmentRepository,
    LedgerRepository,
    RepRepository,
)
from services.routing.rule_repository import DayCountRepository
from services.routing.rule_versions import ActiveRules
from services.routing.rules import (
    AccountOwnerAction,
    Pool,
    PoolAction,
    RepAction,
    RepRef,
    Rule,
    RuleSet,
)

STRATEGIES = {"account_owner": "account_owner", "rep": "named_rep", "pool": STRATEGY}


class Team(Protocol):
    """What the rules ask about the team while deciding one lead."""

    async def named_rep(self, target: RepRef) -> Rep | None:
        """The rep a rule names, if on the team."""

    async def claim(
        self, rep: Rep, *, at: datetime, required: frozenset[str], excluding: uuid.UUID | None
    ) -> str | None:
        """Why the named `rep` cannot take the lead, or None once they are held for it."""

    async def pool_view(self, pool: Pool, *, at: datetime) -> tuple[PoolView, Workload]:
        """The pool's members, their standings and workload, held for the pick."""


async def decide(
    session: AsyncSession,
    *,
    rules: ActiveRules,
    at: datetime,
    lead: Mapping[str, Any] | None = None,
    qualification: Mapping[str, FieldValue] | None = None,
    excluding: uuid.UUID | None = None,
    lock: bool = True,
) -> Decision:
    """Try the active rules in order on `lead` (its snapshot) and `qualification` (grade, score,
    SLA tier); the first matching rule that can place the lead decides (see `ask`).

    With `lock` the candidates stay locked until commit, so the caller can credit the pick; a
    preview reads without locking. `excluding` is the rep an escalation takes the lead from.
    """
    rule_set = await rules.current(session)
    team = StoredTeam(session, lock=lock)
    return await decide_with(team, rule_set, ask(rule_set, lead, qualification), at=at, excluding=excluding)


@dataclass(frozen=True)
class Question:
    """A lead as the rules see it: its facts, the skills it needs and the rules that match it,
    in order. Worked out from the lead alone, so a batch does it before taking any lock."""

    facts: Mapping[str, FieldValue]
    required: frozenset[str]
    rules: Sequence[Rule]


def ask(
    rule_set: RuleSet, lead: Mapping[str, Any] | None, qualification: Mapping[str, FieldValue] | None
) -> Question:
    """Without a lead (an escalation that only knows the rep to avoid) the catch-all rule decides."""
    facts = rule_set.facts(lead or {}, **(qualification or {}))
    rules = list(rule_set.matching(facts)) if lead is not None else [rule_set.catch_all]
    return Question(facts, rule_set.required_skills(facts), rules)


async def decide_with(
    team: Team, rule_set: RuleSet, question: Question, *, at: datetime, excluding: uuid.UUID | None = None
) -> Decision:
    """`decide` for a lead already asked about, against any `Team`."""
    facts, required = question.facts, question.required
    base: dict[str, Any] = {"rules_version": rule_set.version, "decided_at": at.isoformat()}
    if required:
        base["required_skills"] = sorted(required)
    passed_over: list[dict[str, Any]] = []
    for rule in question.rules:
        if passed_over:
            base["passed_over"] = passed_over
        action = rule.action
        if isinstance(action, PoolAction):
            view, workload = await team.pool_view(rule_set.pool(action.pool), at=at)
            return choose_in_pool(
                view, workload, rule=rule.id, base=base, at=at, required=required, excluding=excluding
            )
        target = _direct_target(action, facts)
        rep = None if target is None else await team.named_rep(target)
        if rep is None:
            passed_over.append(
                {"rule": rule.id, "reason": "no_account_owner" if target is None else "unknown_rep"}
            )
            continue
        reason = await team.claim(rep, at=at, required=required, excluding=excluding)
        strategy = STRATEGIES[action.type]
        trace = {**base, "rule": rule.id, "action": action.type, "strategy": strategy, "pool": None}
        if reason is None:
            trace.update(eligible=[{"rep_id": str(rep.id)}], skipped=[], chosen=str(rep.id))
            return Decision(rep, None, trace, queue=f"rule:{rule.id}", strategy=strategy)
        if action.if_unavailable == "queue":
            trace.update(eligible=[], skipped=[{"rep_id": str(rep.id), "reason": reason}])
            return Decision(None, None, trace, queue=f"rule:{rule.id}", strategy=strategy)
        passed_over.append({"rule": rule.id, "rep_id": str(rep.id), "reason": reason})
    raise AssertionError("validation guarantees a catch-all pool rule")


def _direct_target(action: AccountOwnerAction | RepAction, facts: Mapping[str, FieldValue]) -> RepRef | None:
    if isinstance(action, RepAction):
        return RepRef(action.rep)
    owner = facts.get("account_owner_id")
    return RepRef(str(owner)) if owner else None


def wanted_members(pool: Pool, by_email: Mapping[str, uuid.UUID]) -> dict[uuid.UUID, int | None] | None:
    """The pool's listed reps that exist, with the weight the pool gives them (None: their own);
    None for a pool of every rep."""
    if pool.members == "all":
        return None
    wanted: dict[uuid.UUID, int | None] = {}
    for member in pool.members:
        ref = RepRef(member.rep)
        rep_id = ref.rep_id or by_email.get(ref.email)
        if rep_id is not None:
            wanted[rep_id] = member.weight
    return wanted


def listed_emails(pool: Pool) -> list[str]:
    if pool.members == "all":
        return []
    return [ref.email for ref in (RepRef(m.rep) for m in pool.members) if ref.rep_id is None]


def weights_in(members: Sequence[Rep], wanted: Mapping[uuid.UUID, int | None] | None) -> dict[uuid.UUID, int]:
    if wanted is None:
        return {rep.id: rep.weight for rep in members}
    return {rep.id: wanted[rep.id] or rep.weight for rep in members}


async def open_pool(
    session: AsyncSession,
    pool: str,
    members: Sequence[Rep],
    weights: Mapping[uuid.UUID, int],
    *,
    create: bool,
) -> PoolView:
    """The pool's ledger lines of `members` as standings; with `create`, lines new to the pool
    are stored at their opening credit (a preview only pretends)."""
    ledger = LedgerRepository(session)
    lines, fresh = await ledger.lines(pool, [rep.id for rep in members], create=create)
    standings = opened_standings(members, lines, fresh, pool=pool, weights=weights)
    if create:
        for rep_id in sorted(fresh):
            await ledger.open_line(pool, rep_id, credit=standings[rep_id].credit, weight=weights[rep_id])
    return PoolView(pool, members, standings)


async def load_workload(
    session: AsyncSession,
    reps: Sequence[Rep],
    *,
    since: datetime,
    until: datetime,
    absences: Absences | None = None,
) -> Workload:
    """What eligibility needs to know of `reps` for instants in [since, until]: the open counts
    and day counts of those with a cap on them (nobody else's count is ever looked at) and the
    absences overlapping the range (unless the caller read them already)."""
    capped = [rep.id for rep in reps if rep.max_open is not None]
    daily = any(rep.max_per_day is not None for rep in reps)
    if absences is None:
        absences = await AbsenceRepository(session).overlapping(since, until)
    return Workload(
        open_counts=await AssignmentRepository(session).open_counts(capped),
        absences=absences,
        # Every zone's today lies within a day of UTC's.
        day_counts=await DayCountRepository(session).since(since.date() - timedelta(days=1)) if daily else {},
    )


class StoredTeam:
    """The team as the database has it now; with `lock`, whoever a decision may choose is locked
    (id order, so deciders never deadlock) and new ledger lines are stored."""

    def __init__(self, session: AsyncSession, *, lock: bool) -> None:
        self.session = session
        self.lock = lock

    async def named_rep(self, target: RepRef) -> Rep | None:
        reps = RepRepository(self.session)
        rep_id = target.rep_id or (await reps.ids_by_email([target.email])).get(target.email)
        if rep_id is None:
            return None
        found = await reps.candidates([rep_id])
        return found[0] if found else None

    async def claim(
        self, rep: Rep, *, at: datetime, required: frozenset[str], excluding: uuid.UUID | None
    ) -> str | None:
        reason = await self._unavailable(rep, at=at, required=required, excluding=excluding)
        if reason is None and self.lock:
            # Locked only once chosen, and checked again under the lock: a rep passed over holds
            # no lock, so the pool step still locks its members in id order.
            await RepRepository(self.session).lock_candidates([rep.id])
            reason = await self._unavailable(rep, at=at, required=required, excluding=excluding)
        return reason

    async def _unavailable(
        self, rep: Rep, *, at: datetime, required: frozenset[str], excluding: uuid.UUID | None
    ) -> str | None:
        if rep.id == excluding:
            return "escalated_from"
        workload = await load_workload(self.session, [rep], since=at, until=at)
        return unavailable(rep, workload, at=at, required=required, excluding=excluding)

    async def pool_view(self, pool: Pool, *, at: datetime) -> tuple[PoolView, Workload]:
        reps = RepRepository(self.session)
        emails = listed_emails(pool)
        wanted = wanted_members(pool, await reps.ids_by_email(emails) if emails else {})
        ids = None if wanted is None else sorted(wanted)
        members = list(await (reps.lock_candidates(ids) if self.lock else reps.candidates(ids)))
        view = await open_pool(self.session, pool.id, members, weights_in(members, wanted), create=self.lock)
        return view, await load_workload(self.session, members, since=at, until=at)
