"""Scoring's signing page and its evidence route, without a browser: the page loads without a
token, its assets are served, and feedback's evidence is absent when not configured, read at
feedback's in-cluster address when that differs from the dashboard's link, and a 502 problem when
feedback does not answer."""

from __future__ import annotations

import socket

from services.feedback.main import create_app as create_feedback_app
from services.scoring.main import create_app
from services.scoring.settings import ScoringSettings
from shared.auth import Role
from shared.db import Database
from tests.conftest import Infra, bearer
from tests.support.apps import running_app
from tests.support.browser import serving


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_the_page_and_its_assets_load_without_a_token(db: Database, settings_env: Infra) -> None:
    settings = ScoringSettings(dashboard_url="http://dashboard.example/")
    async with running_app(create_app(settings), consume=False) as client:
        page = await client.get("/agreement")
        script = await client.get("/static/agreement.js")
        unknown = await client.get("/static/nope.js")

    assert page.status_code == 200
    assert 'data-dashboard-url="http://dashboard.example"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert script.headers["content-type"].startswith("text/javascript")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


async def test_without_a_dashboard_the_evidence_says_so(db: Database, settings_env: Infra) -> None:
    async with running_app(create_app(ScoringSettings()), consume=False) as client:
        evidence = await client.get("/v1/agreement/evidence", headers=bearer(Role.SALES))
        anonymous = await client.get("/v1/agreement/evidence")

    assert evidence.json() == {"dashboard_configured": False}
    assert anonymous.status_code == 401


async def test_a_silent_feedback_is_a_bad_gateway_problem(db: Database, settings_env: Infra) -> None:
    settings = ScoringSettings(dashboard_url=f"http://127.0.0.1:{closed_port()}")
    async with running_app(create_app(settings), consume=False) as client:
        evidence = await client.get("/v1/agreement/evidence", headers=bearer(Role.MARKETING))

    assert evidence.status_code == 502
    assert evidence.headers["content-type"] == "application/problem+json"
    assert "feedback did not answer /v1/agreement/planning-rates" in evidence.json()["detail"]


async def test_the_evidence_is_read_at_feedbacks_own_address_not_the_dashboard_link(
    db: Database, settings_env: Infra
) -> None:
    # As the Helm chart wires it: the link is the public host, the read goes to feedback's Service.
    async with serving(create_feedback_app()) as feedback_url:
        settings = ScoringSettings(dashboard_url="https://dashboard.example.com", feedback_url=feedback_url)
        async with running_app(create_app(settings), consume=False) as client:
            page = await client.get("/agreement")
            evidence = await client.get("/v1/agreement/evidence", headers=bearer(Role.SALES))

    assert 'data-dashboard-url="https://dashboard.example.com"' in page.text
    assert evidence.status_code == 200, evidence.text
    assert evidence.json()["dashboard_configured"] is True
    assert {"planning_rates", "scorecards", "proposals"} <= evidence.json().keys()
