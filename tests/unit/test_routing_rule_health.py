"""Rule-set drift: reps the rules name who are gone or off, pools with nobody active."""

from __future__ import annotations

import uuid
from typing import Any

from services.routing.rule_health import TeamMember, findings
from services.routing.rules import RuleSet

ADA, BOB, CY = (TeamMember(uuid.uuid4(), f"{n}@example.com", True) for n in ("ada", "bob", "cy"))


def rules(**changes: Any) -> RuleSet:
    document: dict[str, Any] = {
        "version": "t-1",
        "name": "Territories",
        "pools": [
            {"id": "emea", "members": [{"rep": "ada@example.com"}, {"rep": "bob@example.com"}]},
            {"id": "everyone", "members": "all"},
        ],
        "rules": [
            {"id": "vip", "action": {"type": "rep", "rep": "cy@example.com", "if_unavailable": "queue"}},
            {
                "id": "europe",
                "when": [{"field": "region", "op": "equals", "value": "emea"}],
                "action": {"type": "pool", "pool": "emea"},
            },
            {"id": "rest", "action": {"type": "pool", "pool": "everyone"}},
        ],
        **changes,
    }
    return RuleSet.model_validate(document)


def off(rep: TeamMember, reason: str | None = None) -> TeamMember:
    return TeamMember(rep.id, rep.email, False, reason)


def test_rules_that_match_the_team_have_no_findings() -> None:
    assert findings(rules(), [ADA, BOB, CY]) == []


def test_a_named_rep_who_is_off_is_found_with_what_becomes_of_the_leads() -> None:
    [finding] = findings(rules(), [ADA, BOB, off(CY, "breached 3 SLAs in 24 h")])
    assert (finding.loc, finding.problem) == (["rules", 0, "action", "rep"], "rep_off")
    assert "paused (breached 3 SLAs in 24 h)" in finding.detail
    assert "wait for them in the fallback queue" in finding.detail


def test_a_pool_whose_members_are_all_off_or_gone_is_found_with_the_rules_feeding_it() -> None:
    found = findings(rules(), [off(ADA), CY])
    assert [(f.loc, f.problem) for f in found] == [
        (["pools", 0, "members", 0, "rep"], "rep_off"),
        (["pools", 0, "members", 1, "rep"], "rep_unknown"),
        (["pools", 0], "pool_without_active_rep"),
        (["rules", 1, "action", "pool"], "rule_to_pool_without_active_rep"),
    ]


def test_reps_are_matched_by_id_as_well_as_by_email() -> None:
    by_id = rules(
        rules=[
            {"id": "rest", "action": {"type": "rep", "rep": str(BOB.id)}},
            {"id": "all", "action": {"type": "pool", "pool": "everyone"}},
        ]
    )
    assert findings(by_id, [ADA, BOB]) == []
    [finding] = [f for f in findings(by_id, [ADA, off(BOB)]) if f.loc[0] == "rules"]
    assert finding.problem == "rep_off"
    assert "fall through to the next rule" in finding.detail


def test_an_everyone_pool_is_unstaffed_only_when_nobody_is_active() -> None:
    problems = [f.problem for f in findings(rules(), [off(ADA), off(BOB), off(CY)])]
    assert problems.count("pool_without_active_rep") == 2
    assert problems.count("rule_to_pool_without_active_rep") == 2
