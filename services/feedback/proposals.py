"""Feedback's tuning use case: a rubric proposal from the stored facts, and whether it may skip
the two teams' review. No transport here: the caller owns the session and its transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.errors import RubricUnreadable
from services.feedback.model import ModelProposal, backtest, propose_from_model
from services.feedback.readable import rubric_problems
from services.feedback.repository import FactFilter, OutcomeRepository
from services.feedback.service import observation
from services.feedback.tuning import Policy, propose

TuningMethod = Literal["logistic", "lift"]


@dataclass(frozen=True)
class AutoActivation:
    """Feedback's policy flag: may a proposal this small skip the two teams' review?"""

    allowed: bool = False
    max_points_change: int = 5
    max_bar_change: int = 5
    max_volume_change: float = 0.1


@dataclass(frozen=True)
class Activation:
    mode: Literal["approval", "auto"]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Tuning:
    method: TuningMethod
    result: ModelProposal
    activation: Activation


async def propose_rubric(
    session: AsyncSession,
    where: FactFilter,
    *,
    rubric: dict[str, Any],
    version: str,
    policy: Policy,
    method: TuningMethod = "logistic",
    auto: AutoActivation | None = None,
) -> Tuning:
    """Evidence from the MQLs sales has judged and, past the minimum sample, a draft of `rubric`
    whose points come from a regularized logistic model (`logistic`) or from each rule's lift
    alone (`lift`), with a backtest on every scored lead. Nothing is submitted: scoring's
    lifecycle takes the draft, and both teams approve it unless `auto` allows otherwise."""
    problems = rubric_problems(rubric)
    if problems:
        raise RubricUnreadable(
            "the rubric cannot be tuned: " + "; ".join(problems), errors=[_field_error(p) for p in problems]
        )
    leads = await OutcomeRepository(session).scored_leads(where)
    scored = [observation(lead) for lead in leads]
    judged = [o for o, lead in zip(scored, leads, strict=True) if lead.judged]
    if method == "logistic":
        result = propose_from_model(rubric, judged, scored, version=version, policy=policy)
    else:
        proposal = propose(rubric, judged, version=version, policy=policy)
        tested = None
        if proposal.ready:
            shift = 0 if proposal.bar is None else int(proposal.bar.proposed - proposal.bar.current)
            points = {r.rule_id: r.proposed_points for r in proposal.rules}
            tested = backtest(rubric, scored, judged, new_points=points, shift=shift)
        result = ModelProposal(proposal, backtest=tested)
    return Tuning(method, result, activation_for(result, auto or AutoActivation()))


def activation_for(result: ModelProposal, auto: AutoActivation) -> Activation:
    """`auto` only when the policy flag is on and the draft stays within every limit."""
    proposal = result.proposal
    if not proposal.ready:
        return Activation("approval", ("no draft to activate",))
    if not auto.allowed:
        return Activation("approval", ("auto-activation is off: marketing and sales both approve",))
    reasons = [
        f"{r.rule_id} moves {r.proposed_points - r.points:+g} points, past the auto limit of "
        f"{auto.max_points_change}"
        for r in proposal.rules
        if abs(r.proposed_points - r.points) > auto.max_points_change
    ]
    bar = proposal.bar
    if bar is not None and abs(bar.proposed - bar.current) > auto.max_bar_change:
        reasons.append(
            f"the bar moves {bar.proposed - bar.current:+g}, past the auto limit of {auto.max_bar_change}"
        )
    change = None if result.backtest is None else result.backtest.volume_change
    if change is None or abs(change) > auto.max_volume_change:
        reasons.append(
            f"MQL volume change {change} is unknown or past the auto limit of {auto.max_volume_change:.0%}"
        )
    return Activation("approval", tuple(reasons)) if reasons else Activation("auto", ())


def _field_error(problem: str) -> dict[str, Any]:
    path, _, message = problem.partition(": ")
    loc: list[str | int] = ["body", "rubric"]
    loc += [int(part) if part.isdigit() else part for part in path.split(".")]
    return {"loc": loc, "msg": message, "type": "rubric_unreadable"}
