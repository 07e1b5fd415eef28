"""Whether a tuning's draft may skip the two teams' review: the policy flag, the verdict, and
the rule that gives it. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.feedback.logistic import ModelProposal

# Points from the regularized logistic model, or from each rule's lift alone.
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
    """Whether a draft goes to both teams for approval or is activated at once, and why."""

    mode: Literal["approval", "auto"]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Tuning:
    """What `proposals.propose_rubric` returns: how the draft was tuned, the draft with its
    backtest, and how it may be activated."""

    method: TuningMethod
    result: ModelProposal
    activation: Activation


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
    reasons += [
        f"{r.rule_id} is a discovered rule: a new rule is for both teams to approve"
        for r in result.discovered
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
