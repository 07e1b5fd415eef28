"""Where a routing rule set has drifted from the team it routes to.

Rules are checked against the team when they are stored and activated, but the team keeps
changing: a rep quits and is switched off, the SLA policy pauses someone, a territory loses its
last active member. The rules still read as they did, and the leads quietly go elsewhere (a
named rep's rule falls through, or waits for them) or pile up in a fallback queue, which is how
mis-routed leads end up called "bad leads". These checks say so, each with the path of the
part of the document at fault, so a manager can fix the rules before the leads suffer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from services.routing.rules import PoolAction, RepAction, RepRef, RuleSet

Problem = Literal["rep_unknown", "rep_off", "pool_without_active_rep", "rule_to_pool_without_active_rep"]


@dataclass(frozen=True, slots=True)
class TeamMember:
    """What the checks need to know of a rep."""

    id: uuid.UUID
    email: str
    active: bool
    paused_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    loc: list[str | int]
    problem: Problem
    detail: str


def findings(rule_set: RuleSet, team: Sequence[TeamMember]) -> list[Finding]:
    """Every place where `rule_set` names a rep who is gone or off, or sends leads to a pool
    with nobody active in it; in document order, pools first."""
    by_id = {rep.id: rep for rep in team}
    by_email = {rep.email.lower(): rep for rep in team}

    def lookup(text: str) -> TeamMember | None:
        ref = RepRef(text)
        return by_id.get(ref.rep_id) if ref.rep_id is not None else by_email.get(ref.email)

    def off(rep: TeamMember) -> str:
        return f"paused ({rep.paused_reason})" if rep.paused_reason else "switched off"

    found: list[Finding] = []
    staffed: dict[str, bool] = {}
    for i, pool in enumerate(rule_set.pools):
        if pool.members == "all":
            staffed[pool.id] = any(rep.active for rep in team)
        else:
            active = False
            for j, member in enumerate(pool.members):
                rep = lookup(member.rep)
                loc: list[str | int] = ["pools", i, "members", j, "rep"]
                if rep is None:
                    found.append(
                        Finding(
                            loc,
                            "rep_unknown",
                            f"pool {pool.id!r} lists {member.rep!r}, who is not on the team",
                        )
                    )
                elif not rep.active:
                    found.append(
                        Finding(loc, "rep_off", f"pool {pool.id!r} lists {rep.email}, who is {off(rep)}")
                    )
                active = active or (rep is not None and rep.active)
            staffed[pool.id] = active
        if not staffed[pool.id]:
            found.append(
                Finding(
                    ["pools", i],
                    "pool_without_active_rep",
                    f"pool {pool.id!r} has no active rep: every lead it gets waits in its fallback queue",
                )
            )
    for i, rule in enumerate(rule_set.rules):
        action = rule.action
        if isinstance(action, RepAction):
            rep = lookup(action.rep)
            then = (
                "its leads wait for them in the fallback queue"
                if action.if_unavailable == "queue"
                else "its leads fall through to the next rule"
            )
            loc = ["rules", i, "action", "rep"]
            if rep is None:
                found.append(
                    Finding(
                        loc,
                        "rep_unknown",
                        f"rule {rule.id!r} names {action.rep!r}, who is not on the team: {then}",
                    )
                )
            elif not rep.active:
                found.append(
                    Finding(loc, "rep_off", f"rule {rule.id!r} names {rep.email}, who is {off(rep)}: {then}")
                )
        elif isinstance(action, PoolAction) and not staffed.get(action.pool, True):
            found.append(
                Finding(
                    ["rules", i, "action", "pool"],
                    "rule_to_pool_without_active_rep",
                    f"rule {rule.id!r} sends its leads to pool {action.pool!r}, which has no active rep",
                )
            )
    return found
