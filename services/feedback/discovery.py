"""Rule discovery for a proposal, as pure logic: candidate rules from the profiles of the scored
leads, joined to the rubric at 0 points so the same regularized model fits them with its own
rules, and the guardrails that bound what a proposal may add.

Candidates are a value rule per frequent value of a categorical field and bands cut at the
quantiles of a numeric one (`candidates.profile_candidates`). A field filled after the outcome
is refused (`candidates.leaky_fields`). The model then places each candidate it keeps on the fit
or negative list by its sign; at most `Policy.max_rules_added` join the draft, each with its
support, Wilson interval and lift (`ModelProposal.discovered`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from services.feedback.candidates import (
    DiscoveryPolicy,
    activity_candidates,
    activity_feature,
    leaky_fields,
    profile_candidates,
    rule_test,
)
from services.feedback.tuning import Observation, Policy, rule_catalogue
from services.feedback.volume import RANKING_MIN_GAIN, RANKING_VOLUME_SLACK


@dataclass(frozen=True)
class Discovery:
    """The rubric with the candidates at 0 points and the leads with the candidates they fire."""

    rubric: dict[str, Any]
    judged: list[Observation]
    scored: list[Observation]
    candidates: frozenset[str]
    refused: tuple[str, ...]
    guardrails: tuple[str, ...]


def guardrail_statement(policy: Policy, discovery: DiscoveryPolicy) -> tuple[str, ...]:
    return (
        f"a discovered rule needs {discovery.min_support} leads and {discovery.min_share:.0%} of "
        f"them, and {policy.min_rule_leads} judged MQLs on each side, before the model may weigh it",
        f"at most {policy.max_rules_added} discovered rules join one proposal (the strongest first)",
        f"a field filled for {discovery.max_fill_gap:.0%} more of the judged leads than of the "
        "others, or named like a CRM outcome (status, stage, owner...), is refused as filled after "
        "the outcome",
        "names, email addresses and phone numbers are never candidates",
        "the grade floors and engagement minimums that keep the MQL volume must qualify the leads "
        f"the draft scores highest: when another way of keeping it (within {RANKING_VOLUME_SLACK:.0%}) "
        f"qualifies {RANKING_MIN_GAIN:.0%} more of them, the draft takes that one",
    )


def discover(
    rubric: Mapping[str, Any],
    judged: Sequence[Observation],
    scored: Sequence[Observation],
    *,
    policy: Policy,
    discovery: DiscoveryPolicy | None = None,
) -> Discovery:
    """Candidates from the profiles of `scored` (of which `judged` is the part sales judged)."""
    discovery = discovery or DiscoveryPolicy()
    judged_ids = {id(o) for o in judged}
    unjudged = [o.profile for o in scored if id(o) not in judged_ids]
    refused = leaky_fields([o.profile for o in judged], unjudged, discovery)
    rules = profile_candidates(
        [o.profile for o in scored],
        refused=refused,
        existing=rule_catalogue(rubric),
        policy=discovery,
    )
    activities = activity_candidates(
        [o.activity for o in scored],
        existing={*rule_catalogue(rubric), *(r["id"] for r in rules)},
        policy=discovery,
    )
    extended = copy.deepcopy(dict(rubric))
    extended["fit"] = [*(extended.get("fit") or []), *rules]
    extended["engagement"] = [*(extended.get("engagement") or []), *activities]
    tests = [(str(rule["id"]), rule_test(rule)) for rule in rules]

    def fired(o: Observation) -> Observation:
        hits = {rule_id: 0.0 for rule_id, test in tests if test(o.profile)}
        for rule in activities:
            count = activity_feature(rule, o.activity)
            if count:
                hits[str(rule["id"])] = count
        return replace(o, rules={**o.rules, **hits}) if hits else o

    extended_scored = [fired(o) for o in scored]
    by_id = {id(o): e for o, e in zip(scored, extended_scored, strict=True)}
    extended_judged = [by_id.get(id(o)) or fired(o) for o in judged]
    return Discovery(
        rubric=extended,
        judged=extended_judged,
        scored=extended_scored,
        candidates=frozenset([*(rule_id for rule_id, _ in tests), *(str(r["id"]) for r in activities)]),
        refused=tuple(refused.values()),
        guardrails=guardrail_statement(policy, discovery),
    )
