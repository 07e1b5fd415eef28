"""The routing rules API (`/v1/routing/rules`, preview) and two replicas routing by rules."""

from __future__ import annotations

import uuid
from collections import Counter

import httpx
import yaml
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from services.routing.main import create_app
from services.routing.models import Assignment, outbox, processed_event
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer, truncate_all
from tests.integration.test_routing_rules import TEAM_RULES, qualified, team
from tests.support.apps import caught_up, running_app, running_service
from tests.support.events import publish
from tests.support.waiting import eventually

MANAGER = bearer(Role.MANAGER)
YAML = {**MANAGER, "content-type": "application/yaml"}


def draft(**changes: object) -> str:
    return yaml.safe_dump({**TEAM_RULES, "version": f"api-{uuid.uuid4().hex[:12]}", **changes})


async def activate_team_rules(client: httpx.AsyncClient) -> str:
    """Store the team's rules as a draft through the API and activate them; returns the version."""
    version = str((await client.post("/v1/routing/rules", content=draft(), headers=YAML)).json()["version"])
    activated = await client.post(f"/v1/routing/rules/{version}/activate", headers=MANAGER)
    assert activated.status_code == 200, activated.text
    return version


class TestRuleSetHealth:
    async def test_rules_drift_from_the_team_is_reported_for_the_rules_in_use_and_for_a_draft(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with running_service(create_app(), db) as client:
            ids = await team(db)
            version = await activate_team_rules(client)
            healthy = await client.get("/v1/routing/health", headers=MANAGER)
            for name in ("ada", "bob"):
                await client.patch(f"/v1/reps/{ids[name]}", json={"active": False}, headers=MANAGER)
            drifted = await client.get("/v1/routing/health", headers=MANAGER)
            gauge = {
                problem: REGISTRY.get_sample_value("baton_routing_rule_findings", {"problem": problem})
                for problem in ("rep_off", "pool_without_active_rep", "rep_unknown")
            }
            configured = await client.get("/v1/routing/rules/default-1/health", headers=MANAGER)
            missing = await client.get("/v1/routing/rules/nope/health", headers=MANAGER)
            as_rep = await client.get("/v1/routing/health", headers=bearer(Role.REP, rep_id=ids["ada"]))

        assert healthy.status_code == 200, healthy.text
        assert healthy.json() == {"version": version, "in_use": True, "healthy": True, "findings": []}
        body = drifted.json()
        assert body["healthy"] is False
        assert [(f["loc"], f["problem"]) for f in body["findings"]] == [
            (["pools", 0, "members", 0, "rep"], "rep_off"),
            (["pools", 0, "members", 1, "rep"], "rep_off"),
            (["pools", 0], "pool_without_active_rep"),
            (["pools", 1, "members", 0, "rep"], "rep_off"),
            (["rules", 2, "action", "pool"], "rule_to_pool_without_active_rep"),
        ]
        assert gauge == {"rep_off": 3, "pool_without_active_rep": 1, "rep_unknown": 0}
        # The packaged file (one pool of every rep) still has cy, and is not in use.
        assert configured.json() == {"version": "default-1", "in_use": False, "healthy": True, "findings": []}
        assert missing.status_code == 404
        assert as_rep.status_code == 403


class TestRuleSetVersions:
    async def test_draft_is_stored_listed_and_activated_once(self, db: Database, settings_env: Infra) -> None:
        async with running_service(create_app(), db) as client:
            await team(db)
            created = await client.post("/v1/routing/rules", content=draft(), headers=YAML)
            version = created.json()["version"]
            listed = await client.get("/v1/routing/rules", headers=MANAGER)
            fetched = await client.get(f"/v1/routing/rules/{version}", headers=MANAGER)
            activated = await client.post(f"/v1/routing/rules/{version}/activate", headers=MANAGER)
            again = await client.post(f"/v1/routing/rules/{version}/activate", headers=MANAGER)
            duplicate = await client.post(
                "/v1/routing/rules",
                content=fetched.json()["document"] and yaml.safe_dump(fetched.json()["document"]),
                headers=YAML,
            )
            configured = await client.get("/v1/routing/rules/default-1", headers=MANAGER)

        assert created.status_code == 201, created.text
        assert created.json()["status"] == "draft"
        assert [v["version"] for v in listed.json()] == [version]
        assert fetched.json()["document"]["rules"][0]["id"] == "owner"
        assert activated.status_code == 200, activated.text
        assert (activated.json()["status"], activated.json()["previous_version"]) == ("active", None)
        assert again.status_code == 409
        assert duplicate.status_code == 409
        assert configured.json()["status"] == "configured"
        assert configured.json()["document"]["pools"][0]["members"] == "all"

    async def test_invalid_rule_sets_get_422_with_every_path_and_store_nothing(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with running_service(create_app(), db) as client:
            await team(db)
            bad_field = await client.post(
                "/v1/routing/rules",
                json={
                    **TEAM_RULES,
                    "version": "bad-1",
                    "rules": [
                        {
                            "id": "x",
                            "when": [{"field": "mood", "op": "equals", "value": 1}],
                            "action": {"type": "pool", "pool": "emea"},
                        }
                    ],
                },
                headers=MANAGER,
            )
            unknown_rep = await client.post(
                "/v1/routing/rules",
                content=draft(
                    pools=[{"id": "emea", "members": [{"rep": "nobody@example.com"}]}, TEAM_RULES["pools"][1]]
                ),
                headers=YAML,
            )
            not_yaml = await client.post("/v1/routing/rules", content="rules: [", headers=YAML)
            as_rep = await client.post(
                "/v1/routing/rules",
                content=draft(),
                headers={**bearer(Role.REP, rep_id=uuid.uuid4()), "content-type": "application/yaml"},
            )
            listed = await client.get("/v1/routing/rules", headers=MANAGER)

        assert bad_field.status_code == 422
        assert bad_field.headers["content-type"].startswith("application/problem+json")
        locs = [tuple(e["loc"]) for e in bad_field.json()["errors"]]
        assert locs == [("rules", 0, "when", 0, "equals", "field")]
        assert unknown_rep.status_code == 422
        assert unknown_rep.json()["errors"][0]["loc"] == ["pools", 0, "members", 0, "rep"]
        assert not_yaml.status_code == 422
        assert as_rep.status_code == 403
        assert listed.json() == []

    async def test_an_unknown_pool_and_an_unknown_rep_are_reported_in_one_answer(
        self, db: Database, settings_env: Infra
    ) -> None:
        # The README promises every error at once: a draft naming a pool that does not exist and a
        # rep who is not on the team must not be sent back twice to learn of the second.
        rules = [dict(rule) for rule in TEAM_RULES["rules"]]
        rules[2] = {**rules[2], "action": {"type": "pool", "pool": "apac"}}
        async with running_service(create_app(), db) as client:
            await team(db)
            response = await client.post(
                "/v1/routing/rules",
                content=draft(
                    pools=[
                        {"id": "emea", "members": [{"rep": "nobody@example.com"}]},
                        TEAM_RULES["pools"][1],
                    ],
                    rules=rules,
                ),
                headers=YAML,
            )
            listed = await client.get("/v1/routing/rules", headers=MANAGER)

        assert response.status_code == 422, response.text
        errors = {(tuple(e["loc"]), e["type"]) for e in response.json()["errors"]}
        assert errors == {
            (("rules", 2, "action", "pool"), "rule_set"),
            (("pools", 0, "members", 0, "rep"), "unknown_rep"),
        }
        assert listed.json() == []


class TestPreview:
    async def test_preview_names_the_rule_and_the_rep_and_assigns_nothing(
        self, db: Database, settings_env: Infra
    ) -> None:
        async with running_service(create_app(), db) as client:
            ids = await team(db)
            version = await activate_team_rules(client)
            european = await client.post(
                "/v1/routing/preview", json={"lead": {"country": "DE", "language": "de"}}, headers=MANAGER
            )
            owned = await client.post(
                "/v1/routing/preview", json={"lead": {"account_owner_id": str(ids["cy"])}}, headers=MANAGER
            )
            typo = await client.post("/v1/routing/preview", json={"lead": {"contry": "DE"}}, headers=MANAGER)

        assert european.status_code == 200, european.text
        body = european.json()
        assert (body["rules_version"], body["rule"], body["pool"]) == (version, "europe", "emea")
        assert body["required_skills"] == ["de"]
        assert {s["reason"] for s in body["skipped"]} == {"missing_skill"}
        assert body["chosen"] is None
        assert (body["queued"], body["queue"]) == (True, "emea")
        assert "would wait in the emea fallback queue" in body["outcome"]
        assert (owned.json()["rule"], owned.json()["chosen"]) == ("owner", str(ids["cy"]))
        assert owned.json()["chosen_name"] == "cy"
        assert typo.status_code == 422
        async with db.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(Assignment)) == 0


class TestTwoReplicasWithRules:
    async def test_two_replicas_routing_by_rules_assign_every_lead_once_and_fairly_per_pool(
        self, db: Database, settings_env: Infra
    ) -> None:
        europe = [qualified(country="FR") for _ in range(6)]
        rest = [qualified(country="US") for _ in range(9)]
        replicas = create_app(), create_app()
        group = f"test-routing-{uuid.uuid4().hex[:12]}"
        async with running_app(replicas[0], group=group) as client, running_app(replicas[1], group=group):
            for replica in replicas:
                await caught_up(replica)
            await truncate_all(db)
            ids = await team(db)
            await activate_team_rules(client)
            await publish(settings_env.kafka_bootstrap_servers, *europe, *rest, *europe)

            async def all_processed() -> None:
                async with db.transaction() as session:
                    done = await session.scalar(
                        select(func.count())
                        .select_from(processed_event)
                        .where(processed_event.c.event_id.in_([e.event_id for e in (*europe, *rest)]))
                    )
                assert done == len(europe) + len(rest)

            await eventually(all_processed, timeout_s=45)

        async with db.transaction() as session:
            rows = (await session.execute(select(Assignment.lead_id, Assignment.rep_id))).all()
            announced = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.event_type == "lead.assigned")
            )
        by_lead = dict(rows)
        assert len(rows) == len(by_lead) == announced == len(europe) + len(rest)
        assert Counter(by_lead[e.lead_id] for e in europe) == {ids["ada"]: 3, ids["bob"]: 3}
        assert Counter(by_lead[e.lead_id] for e in rest) == {ids["ada"]: 3, ids["cy"]: 6}
