"""`GET /v1/me` in every service: who the token belongs to and what its role may do there, read
from the routes' own role checks; and the README's role table, held to the same checks."""

from __future__ import annotations

import importlib
import importlib.util
import re
import uuid
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from shared.auth import Principal, Role
from shared.me import ME_PATH, me_router, operations_for
from tests.conftest import bearer
from tests.support.apps import offline_client

SERVICES = ("ingest", "scoring", "routing", "feedback")


def answers_me_itself(service: str) -> bool:
    """Routing may answer `/v1/me` with its own, richer route (the rep's queue)."""
    modules = [m for m in ("api", "api_me") if importlib.util.find_spec(f"services.{service}.{m}")]
    return me_router([importlib.import_module(f"services.{service}.{m}").router for m in modules]) is None


def operations(body: dict[str, object]) -> set[tuple[str, str]]:
    may = body["may"]
    assert isinstance(may, list)
    return {(op["method"], op["path"]) for op in may}


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("role", list(Role))
async def test_every_token_learns_its_role_and_ids(service: str, role: Role, offline_settings: None) -> None:
    # Routing looks a rep id up in its database (its integration tests cover that): offline, ask
    # it with tokens that name no rep.
    names_rep = role in {Role.REP, Role.MANAGER} and not answers_me_itself(service)
    rep_id = uuid.uuid4() if names_rep else None
    source_id = "crm" if role is Role.SOURCE else None
    async with offline_client(service) as client:
        response = await client.get(ME_PATH, headers=bearer(role, rep_id=rep_id, source_id=source_id))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == role.value
    assert body["service"] == service
    assert body["subject"] == f"test-{role.value}"
    assert body["rep_id"] == (str(rep_id) if rep_id else None)
    assert body["source_id"] == source_id
    assert body["roles_documented_at"].endswith("README.md#authentication")


@pytest.mark.parametrize("service", SERVICES)
async def test_without_a_token_it_answers_401(service: str, offline_settings: None) -> None:
    async with offline_client(service) as client:
        response = await client.get(ME_PATH)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_what_a_role_may_do_follows_the_routes_role_checks(offline_settings: None) -> None:
    async with offline_client("ingest") as client:
        marketing = (await client.get(ME_PATH, headers=bearer(Role.MARKETING))).json()
        rep = (await client.get(ME_PATH, headers=bearer(Role.REP, rep_id=uuid.uuid4()))).json()
        admin = (await client.get(ME_PATH, headers=bearer(Role.ADMIN))).json()
    assert ("POST", "/v1/forms") in operations(marketing)
    assert ("POST", "/v1/sources") not in operations(marketing)
    assert ("POST", "/v1/sources") in operations(admin)
    assert operations(rep) == set()


async def test_only_the_marketing_and_sales_approvers_may_approve_a_rubric(offline_settings: None) -> None:
    async with offline_client("scoring") as client:
        admin = operations((await client.get(ME_PATH, headers=bearer(Role.ADMIN))).json())
        sales = operations((await client.get(ME_PATH, headers=bearer(Role.SALES))).json())
    approvals = {op for op in sales if op[1].endswith("/approvals")}
    assert approvals
    assert not approvals & admin


async def test_a_rep_is_told_which_operations_are_on_their_own_records_only(offline_settings: None) -> None:
    async with offline_client("feedback") as client:
        body = (await client.get(ME_PATH, headers=bearer(Role.REP, rep_id=uuid.uuid4()))).json()
    assert all(op["own_only"] == ("{" in op["path"]) for op in body["may"])


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_documents_me_once(service: str, offline_settings: None) -> None:
    app = importlib.import_module(f"services.{service}.main").create_app()
    assert "get" in app.openapi()["paths"][ME_PATH]


def test_a_service_answering_me_itself_keeps_its_own() -> None:
    own = APIRouter()

    @own.get(ME_PATH)
    async def richer_me() -> dict[str, str]:
        return {}

    assert me_router([own]) is None
    assert me_router([APIRouter()]) is not None


REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
TABLE_ROLES = ("admin", "manager", "marketing", "sales", "rep", "source")
# Admitted by a check inside the route's own dependency (an X-Api-Key, or a bearer token of role
# source or admin: `ingest.dependencies.posting_source`), which `/v1/me` cannot read.
CHECKED_INSIDE = {("ingest", "POST", "/v1/events")}
# One operation in a backticked cell: a method and a path with no elision (`…`) or query.
NAMED_OPERATION = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/v1/[^`…?]*)`")


def _role_table_claims() -> list[tuple[str, str, str, frozenset[str]]]:
    """(service, method, path, roles marked ✓ or own) for every operation the README's role
    table names in full, paths' parameters written `{}`."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| to… | through |") :].split("\n\n", 1)[0]
    claims = []
    for row in table.splitlines()[2:]:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        service = cells[1].split(" ", 1)[0]
        if service not in SERVICES:
            continue
        roles = frozenset(role for role, mark in zip(TABLE_ROLES, cells[2:], strict=True) if mark)
        for method, path in NAMED_OPERATION.findall(cells[1]):
            if path != ME_PATH:
                claims.append((service, method, re.sub(r"\{[^}]*\}", "{}", path), roles))
    return claims


def _routers(service: str) -> list[APIRouter]:
    """The service's HTTP routers (`api*.py`, `pages.py`), as its app includes them."""
    package = REPO / "services" / service
    names = sorted(p.stem for p in package.glob("*.py") if p.stem.startswith("api") or p.stem == "pages")
    return [importlib.import_module(f"services.{service}.{name}").router for name in names]


def test_the_readmes_role_table_names_the_roles_each_route_admits() -> None:
    """The table a newcomer reads (README, "Who may do what") against the routes' own role checks
    (as `/v1/me` reads them), for every operation it names in full."""
    admitted: dict[tuple[str, str, str], set[str]] = {}
    for service in SERVICES:
        routes = [
            route for router in _routers(service) for route in router.routes if isinstance(route, APIRoute)
        ]
        for role in Role:
            for op in operations_for(routes, Principal(subject="table", role=role)):
                key = (service, op.method, re.sub(r"\{[^}]*\}", "{}", op.path))
                admitted.setdefault(key, set()).add(role.value)
    claims = _role_table_claims()
    assert len(claims) >= 15, claims
    wrong = [
        f"{service} {method} {path}: README says {sorted(roles)}, the route admits {sorted(found)}"
        for service, method, path, roles in claims
        if (service, method, path) not in CHECKED_INSIDE
        if roles != (found := admitted.get((service, method, path), set()))
    ]
    assert wrong == []
