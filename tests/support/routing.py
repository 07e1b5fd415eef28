"""Helpers shared by routing's integration tests: qualified leads, reps, assignments, the app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from services.routing import reps, rule_versions
from services.routing.assignment import assign_lead
from services.routing.main import create_app
from services.routing.models import Assignment
from services.routing.rule_versions import ActiveRules
from services.routing.rules import RuleSet, load_rule_set
from services.routing.schemas import RepCreate
from services.routing.settings import RoutingSettings
from shared.contracts import LeadQualified, LeadQualifiedPayload, LeadSnapshot, utc_now
from shared.db import Database
from tests.support.apps import running_service

# The rules routing decides with in tests that call its use cases directly: the packaged default
# until a test activates a version (what the test apps run with, too).
RULES = ActiveRules(load_rule_set())


def qualified(
    lead_id: uuid.UUID | None = None, *, sla_minutes: int = 5, sla_tier: str = "hot", grade: str = "A"
) -> LeadQualified:
    """A hot hand-raiser's `lead.qualified` for a fresh (or the given) lead, qualified now."""
    lead_id = lead_id or uuid.uuid4()
    snapshot = {"email": f"{lead_id}@example.com", "company": "Analytical", "source": "form"}
    return _qualified(lead_id, grade, 82.0, "hand_raiser", sla_tier, sla_minutes, snapshot)


def qualified_for_rules(grade: str = "B", lead_id: uuid.UUID | None = None, **lead: Any) -> LeadQualified:
    """A warm `lead.qualified` whose snapshot holds just `lead`'s fields, for rules to match on."""
    lead_id = lead_id or uuid.uuid4()
    return _qualified(
        lead_id, grade, 70.0, "threshold", "warm", 60, {"email": f"{lead_id}@example.com", **lead}
    )


def _qualified(
    lead_id: uuid.UUID,
    grade: str,
    score: float,
    reason: str,
    sla_tier: str,
    sla_minutes: int,
    snapshot: dict[str, Any],
) -> LeadQualified:
    payload = LeadQualifiedPayload(
        rubric_version="2026-11-01",
        score=score,
        grade=grade,
        reason=reason,
        sla_tier=sla_tier,
        sla_minutes=sla_minutes,
        qualified_at=utc_now(),
        lead=LeadSnapshot.model_validate(snapshot),
    )
    return LeadQualified.new(lead_id=lead_id, producer="scoring", payload=payload)


async def add_rep(db: Database, name: str, **fields: object) -> uuid.UUID:
    """Register a rep through the use case (level with the team's standing); returns the id."""
    async with db.transaction() as session:
        rep = await reps.register_rep(
            session,
            rules=RULES,
            rep=RepCreate.model_validate({"name": name, "email": f"{name}@example.com", **fields}),
        )
    return rep.id


async def add_reps(db: Database, count: int, **fields: object) -> list[uuid.UUID]:
    return [await add_rep(db, f"rep{i}", **fields) for i in range(count)]


async def assign(db: Database, event: LeadQualified | None = None) -> Assignment:
    """Assign a lead (a fresh one by default) in its own transaction; it must find a rep."""
    async with db.transaction() as session:
        outcome = await assign_lead(session, rules=RULES, event=event or qualified())
    assert outcome.assignment is not None, outcome.result
    return outcome.assignment


async def activate(db: Database, document: dict[str, Any]) -> str:
    """Store `document` as a new rule set version and activate it; returns the version."""
    # Unique per test: parsed versions are cached for the life of the process.
    version = f"test-{uuid.uuid4().hex[:12]}"
    async with db.transaction() as session:
        await rule_versions.create_draft(
            session, rules=RULES, draft=RuleSet.from_document({**document, "version": version}), author="test"
        )
        await rule_versions.activate(session, version=version)
    return version


@asynccontextmanager
async def routing_app(
    db: Database, settings: RoutingSettings | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The routing app on clean tables, once its consumer has worked through whatever earlier
    tests of the session left on the shared broker (those leads would otherwise reach our reps)."""
    async with running_service(create_app(settings), db) as client:
        yield client
