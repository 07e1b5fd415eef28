"""Feedback's tuning use case: a rubric proposal from the stored facts, and whether it may skip
the two teams' review. No transport here: the caller owns the session and its transaction."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.activation import AutoActivation, Tuning, TuningMethod, activation_for
from services.feedback.backtest import backtest
from services.feedback.discovery import discover
from services.feedback.errors import RubricUnreadable
from services.feedback.logistic import ModelProposal, propose_from_model
from services.feedback.models import audit
from services.feedback.readable import rubric_problems
from services.feedback.repository import FactFilter, OutcomeRepository
from services.feedback.service import observation
from services.feedback.tuning import Policy, propose
from shared.audit import record_change


async def propose_rubric(
    session: AsyncSession,
    where: FactFilter,
    *,
    rubric: dict[str, Any],
    version: str,
    policy: Policy,
    method: TuningMethod = "logistic",
    auto: AutoActivation | None = None,
    actor: str,
) -> Tuning:
    """Evidence from the MQLs sales has judged and, past the minimum sample, a draft of `rubric`
    whose points come from a regularized logistic model (`logistic`, which also discovers rules
    the rubric does not name from the leads' profiles: `discovery`) or from each rule's lift
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
        found = discover(rubric, judged, scored, policy=policy)
        result = propose_from_model(
            found.rubric,
            found.judged,
            found.scored,
            version=version,
            policy=policy,
            candidates=found.candidates,
        )
        result = replace(result, guardrails=found.guardrails + found.refused)
    else:
        proposal = propose(rubric, judged, version=version, policy=policy)
        tested = None
        if proposal.ready:
            shift = 0 if proposal.bar is None else int(proposal.bar.proposed - proposal.bar.current)
            points = {r.rule_id: r.proposed_points for r in proposal.rules}
            tested = backtest(rubric, scored, judged, new_points=points, shift=shift)
        result = ModelProposal(proposal, backtest=tested)
    tuning = Tuning(method, result, activation_for(result, auto or AutoActivation()))
    # Who asked for which draft, and whether it may skip the teams' review: a summary only (the
    # evidence behind it is aggregate and recomputed on demand).
    await record_change(
        session,
        audit,
        actor=actor,
        action="rubric.proposed",
        object_type="rubric_proposal",
        object_id=version,
        after={
            "method": method,
            "from_version": str(rubric.get("version")),
            "ready": result.proposal.ready,
            "activation": tuning.activation.mode,
            "reasons": list(tuning.activation.reasons),
        },
    )
    return tuning


def _field_error(problem: str) -> dict[str, Any]:
    path, _, message = problem.partition(": ")
    loc: list[str | int] = ["body", "rubric"]
    loc += [int(part) if part.isdigit() else part for part in path.split(".")]
    return {"loc": loc, "msg": message, "type": "rubric_unreadable"}
