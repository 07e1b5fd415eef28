"""Rule discovery in proposals: candidates from stored profiles, fitted with the rubric's rules."""

from __future__ import annotations

import random
from typing import Any

from services.feedback.candidates import DiscoveryPolicy, leaky_fields, profile_candidates, rule_test
from services.feedback.discovery import discover
from services.feedback.logistic import propose_from_model
from services.feedback.tuning import Observation, Policy
from services.scoring.rubric import Rubric
from tests.unit.test_feedback_tuning import starter

INDUSTRIES = ("software", "manufacturing", "retail", "logistics")


def market(n: int, seed: int = 3) -> list[Observation]:
    """Manufacturing buys (the starter's industry rule does not name it); analysts rarely do."""
    rng = random.Random(seed)
    leads = []
    for _ in range(n):
        industry = rng.choice(INDUSTRIES)
        title = rng.choice(("VP Sales", "Analyst", "Marketing Manager"))
        size = rng.choice((30, 120, 600, 3000, 12000))
        rules = {"company-known": 5.0}
        if industry == "software":
            rules["industry-target"] = 10.0
        chance = 0.25 + 0.4 * (industry == "manufacturing") - 0.2 * (title == "Analyst")
        profile: dict[str, Any] = {"industry": industry, "job_title": title, "company_size": size}
        leads.append(Observation(rules=rules, sql=rng.random() < chance, profile=profile))
    return leads


def test_candidates_are_value_rules_and_quantile_bands_that_scoring_reads_the_same_way() -> None:
    leads = market(600)
    rules = profile_candidates([o.profile for o in leads])
    ids = {r["id"] for r in rules}
    assert "found-industry-manufacturing" in ids
    assert any(r["when"]["op"] == "range" for r in rules)
    document = dict(starter(), fit=[dict(r, points=1) for r in rules], negative=[], engagement=[])
    Rubric.from_document(document)  # every candidate is valid rubric language
    manufacturing = next(r for r in rules if r["id"] == "found-industry-manufacturing")
    assert rule_test(manufacturing)({"industry": "Manufacturing "})
    assert not rule_test(manufacturing)({"industry": None})


def test_fields_filled_after_the_outcome_are_refused() -> None:
    judged = [{"attributes.rep_notes": "called", "attributes.lead_status": "won"} for _ in range(50)]
    others = [{"attributes.lead_status": "new"} for _ in range(50)]
    refused = leaky_fields(judged, others, DiscoveryPolicy())
    assert set(refused) == {"attributes.rep_notes", "attributes.lead_status"}


def test_a_proposal_adds_the_market_the_rubric_does_not_name_and_penalises_a_weak_title() -> None:
    leads = market(1500)
    policy = Policy(max_points_change=30, max_rules_added=4)
    found = discover(starter(), leads, leads, policy=policy)
    result = propose_from_model(
        found.rubric, found.judged, found.scored, version="v2", policy=policy, candidates=found.candidates
    )
    added = {r.rule_id: r for r in result.discovered}
    assert len(added) <= 4
    assert added["found-industry-manufacturing"].kind == "fit"
    assert added["found-industry-manufacturing"].lift is not None
    assert added["found-industry-manufacturing"].interval is not None
    draft = result.proposal.draft
    assert draft is not None
    Rubric.from_document(draft)
    fit = {r["id"] for r in draft["fit"]}
    negative = {r["id"] for r in draft["negative"]}
    assert "found-industry-manufacturing" in fit
    assert "found-job-title-analyst" in negative
    assert not {r for r in found.candidates if r not in added} & (fit | negative)
