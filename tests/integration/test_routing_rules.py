"""Routing rules against the real database: rule order, each action, pools with their own
fairness ledgers, skills and daily caps, per-pool fallback queues, concurrent deciders."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import select

from services.routing import reps
from services.routing.assignment import assign_lead
from services.routing.models import Assignment, RepLedger, UnassignedLead
from services.routing.schemas import RepUpdate
from shared.contracts import LeadQualified
from shared.db import Database
from tests.support.routing import RULES, activate, add_rep
from tests.support.routing import qualified_for_rules as qualified

TEAM_RULES: dict[str, Any] = {
    "name": "Territories",
    "common_skills": ["en"],
    "pools": [
        {"id": "emea", "members": [{"rep": "ada@example.com"}, {"rep": "bob@example.com"}]},
        {"id": "everyone", "members": [{"rep": "ada@example.com"}, {"rep": "cy@example.com", "weight": 2}]},
    ],
    "rules": [
        {"id": "owner", "action": {"type": "account_owner"}},
        {
            "id": "vip",
            "when": [{"field": "grade", "op": "equals", "value": "A+"}],
            "action": {"type": "rep", "rep": "cy@example.com"},
        },
        {
            "id": "europe",
            "when": [{"field": "region", "op": "equals", "value": "emea"}],
            "action": {"type": "pool", "pool": "emea"},
        },
        {"id": "rest", "action": {"type": "pool", "pool": "everyone"}},
    ],
}


async def team(db: Database) -> dict[str, uuid.UUID]:
    return {name: await add_rep(db, name) for name in ("ada", "bob", "cy")}


async def assign(db: Database, event: LeadQualified) -> Assignment | None:
    async with db.transaction() as session:
        outcome = await assign_lead(session, rules=RULES, event=event)
    return outcome.assignment


async def assigned(db: Database, event: LeadQualified) -> Assignment:
    assignment = await assign(db, event)
    assert assignment is not None, "lead was queued"
    return assignment


async def assigned_rep(db: Database, event: LeadQualified) -> uuid.UUID:
    assignment = await assign(db, event)
    assert assignment is not None, "lead was queued"
    return assignment.rep_id


class TestRuleOrderAndActions:
    async def test_account_owner_named_rep_and_pool_each_decide_in_rule_order(self, db: Database) -> None:
        ids = await team(db)
        version = await activate(db, TEAM_RULES)

        owned = await assigned(db, qualified(grade="A+", country="DE", account_owner_id=ids["bob"]))
        vip = await assigned(db, qualified(grade="A+", country="DE"))
        european = await assigned(db, qualified(country="DE"))
        elsewhere = await assigned(db, qualified(country="US"))

        assert (owned.rep_id, owned.strategy, owned.decision["rule"]) == (
            ids["bob"],
            "account_owner",
            "owner",
        )
        assert (vip.rep_id, vip.strategy, vip.decision["rule"]) == (ids["cy"], "named_rep", "vip")
        assert vip.decision["passed_over"] == [{"rule": "owner", "reason": "no_account_owner"}]
        assert (european.decision["rule"], european.decision["pool"]) == ("europe", "emea")
        assert european.rep_id in {ids["ada"], ids["bob"]}
        assert (elsewhere.decision["rule"], elsewhere.decision["pool"]) == ("rest", "everyone")
        assert {a.decision["rules_version"] for a in (owned, vip, european, elsewhere)} == {version}

    async def test_unavailable_owner_falls_through_to_the_next_rule_with_the_reason(
        self, db: Database
    ) -> None:
        ids = await team(db)
        await activate(db, TEAM_RULES)
        async with db.transaction() as session:
            await reps.update_rep(session, rules=RULES, rep_id=ids["bob"], changes=RepUpdate(active=False))

        assignment = await assign(db, qualified(country="DE", account_owner_id=ids["bob"]))

        assert assignment is not None
        assert assignment.rep_id == ids["ada"]
        assert assignment.decision["passed_over"] == [
            {"rule": "owner", "rep_id": str(ids["bob"]), "reason": "inactive"}
        ]
        assert assignment.decision["skipped"] == [{"rep_id": str(ids["bob"]), "reason": "inactive"}]

    async def test_owner_rule_that_queues_waits_for_the_owner(self, db: Database) -> None:
        ids = await team(db)
        rules = {
            **TEAM_RULES,
            "rules": [
                {"id": "owner", "action": {"type": "account_owner", "if_unavailable": "queue"}},
                TEAM_RULES["rules"][-1],
            ],
        }
        await activate(db, rules)
        async with db.transaction() as session:
            await reps.update_rep(session, rules=RULES, rep_id=ids["bob"], changes=RepUpdate(active=False))
        event = qualified(account_owner_id=ids["bob"])

        assert await assign(db, event) is None
        async with db.transaction() as session:
            waiting = await session.get(UnassignedLead, event.lead_id)
            assert waiting is not None
            assert waiting.pool == "rule:owner"
            await reps.update_rep(session, rules=RULES, rep_id=ids["bob"], changes=RepUpdate(active=True))
        async with db.transaction() as session:
            assignment = (
                await session.execute(select(Assignment).where(Assignment.lead_id == event.lead_id))
            ).scalar_one()
        assert assignment.rep_id == ids["bob"]


class TestSkillsAndDailyCaps:
    async def test_missing_skill_and_daily_cap_are_skipped_with_their_reasons(self, db: Database) -> None:
        german = await add_rep(db, "ada", skills=["de", "analytics"], max_per_day=1)
        plain = await add_rep(db, "bob", skills=["analytics"])
        fluent = await add_rep(db, "cy", skills=["DE", "analytics"])
        await activate(
            db,
            {
                **TEAM_RULES,
                "rules": [TEAM_RULES["rules"][-1]],
                "pools": [{"id": "everyone", "members": "all"}],
            },
        )

        first = await assigned(db, qualified(language="de", product_interest="Analytics"))
        second = await assigned(db, qualified(language="de", product_interest="Analytics"))
        english = await assigned(db, qualified(language="en"))

        assert first.decision["required_skills"] == ["analytics", "de"]
        assert {first.rep_id, second.rep_id} == {german, fluent}
        later = second if second.rep_id == fluent else first
        skipped = {s["rep_id"]: s for s in later.decision["skipped"]}
        assert skipped[str(plain)] == {"rep_id": str(plain), "reason": "missing_skill", "missing": ["de"]}
        if later is second:
            assert skipped[str(german)]["reason"] == "daily_cap"
        assert "required_skills" not in english.decision  # `en` is common to every rep

    async def test_lead_nobody_can_serve_waits_in_its_pools_queue(self, db: Database) -> None:
        await add_rep(db, "ada", skills=["fr"])
        await activate(
            db,
            {
                **TEAM_RULES,
                "rules": [TEAM_RULES["rules"][-1]],
                "pools": [{"id": "everyone", "members": "all"}],
            },
        )
        event = qualified(language="ja")

        assert await assign(db, event) is None
        async with db.transaction() as session:
            waiting = await session.get(UnassignedLead, event.lead_id)
        assert waiting is not None
        assert (waiting.pool, waiting.reason) == ("everyone", "no_eligible_rep")
        assert waiting.decision["skipped"][0]["reason"] == "missing_skill"


class TestPoolFairness:
    async def test_each_pool_keeps_its_own_ledger_and_weights(self, db: Database) -> None:
        ids = await team(db)
        await activate(db, TEAM_RULES)

        europe = [await assigned_rep(db, qualified(country="FR")) for _ in range(6)]
        rest = [await assigned_rep(db, qualified(country="US")) for _ in range(9)]

        # Ada is in both pools and has a fair share in each, whatever she got in the other.
        assert Counter(europe) == {ids["ada"]: 3, ids["bob"]: 3}
        assert Counter(rest) == {ids["ada"]: 3, ids["cy"]: 6}
        async with db.transaction() as session:
            lines = (
                await session.execute(select(RepLedger.pool, RepLedger.rep_id, RepLedger.assigned))
            ).all()
        assert {(pool, rep): n for pool, rep, n in lines if n} == {
            ("emea", ids["ada"]): 3,
            ("emea", ids["bob"]): 3,
            ("everyone", ids["ada"]): 3,
            ("everyone", ids["cy"]): 6,
        }

    async def test_rep_joining_a_pool_gets_no_catch_up_burst(self, db: Database) -> None:
        ids = await team(db)
        await activate(db, TEAM_RULES)
        for _ in range(6):
            await assign(db, qualified(country="US"))
        grown = {
            **TEAM_RULES,
            "pools": [
                TEAM_RULES["pools"][0],
                {
                    "id": "everyone",
                    "members": [*TEAM_RULES["pools"][1]["members"], {"rep": "bob@example.com"}],
                },
            ],
        }
        await activate(db, grown)

        chosen = [await assigned_rep(db, qualified(country="US")) for _ in range(4)]

        assert chosen.count(ids["bob"]) == 1


class TestConcurrentDeciders:
    async def test_caps_hold_for_a_rep_shared_by_two_pools_under_concurrent_decisions(
        self, db: Database
    ) -> None:
        ids = await team(db)
        async with db.transaction() as session:
            await reps.update_rep(session, rules=RULES, rep_id=ids["ada"], changes=RepUpdate(max_open=3))
        await activate(db, TEAM_RULES)
        events = [qualified(country="DE") for _ in range(8)] + [qualified(country="US") for _ in range(8)]

        results = await asyncio.gather(*(assign(db, e) for e in events))
        again = await asyncio.gather(*(assign(db, e) for e in events))

        assert all(a is not None for a in results)
        assert [a.id for a in again if a] == [a.id for a in results if a]
        assert Counter(a.rep_id for a in results if a)[ids["ada"]] == 3
        async with db.transaction() as session:
            leads = (await session.execute(select(Assignment.lead_id))).scalars().all()
        assert sorted(leads) == sorted(e.lead_id for e in events)
