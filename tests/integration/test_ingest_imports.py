"""Bulk import: `baton import` sends a CSV to `POST /v1/imports` in parts, showing progress; each
row is answered on its own, and a second run of the same file creates nothing new."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

import httpx
from sqlalchemy import text

from baton.cli import import_csv
from services.ingest.main import create_app
from shared.contracts import LeadIngested
from shared.db import Database
from tests.conftest import Infra
from tests.support.ingest import MARKETING, ingest_client, staged

COLUMNS = ["Lead ID", "Email Address", "First Name", "Company", "Employees", "Lead Source"]
MAP = ["Email Address=email", "First Name=first_name", "Company=company"]


def write_csv(path: Path, rows: int, tag: str) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for n in range(rows):
            writer.writerow(
                [f"L-{n}", f"lead-{tag}-{n}@import.example", f"Pat{n}", f"Co {n % 97}", "10", "Trade show"]
            )


async def _leads_from(db: Database, tag: str) -> int:
    async with db.transaction() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM ingest.lead WHERE email LIKE :pattern"), {"pattern": f"lead-{tag}-%"}
        )
    return int(count or 0)


async def test_ten_thousand_rows_import_with_progress_and_a_rerun_creates_nothing(
    db: Database, settings_env: Infra, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    leads = tmp_path / "leads.csv"
    write_csv(leads, 10_000, tag)
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        token = MARKETING["Authorization"].removeprefix("Bearer ")
        first_progress, again_progress = io.StringIO(), io.StringIO()
        first = await import_csv(
            leads,
            url="http://ingest",
            token=token,
            column_map=MAP,
            mode="history",
            transport=transport,
            progress=first_progress,
        )
        again = await import_csv(
            leads,
            url="http://ingest",
            token=token,
            column_map=MAP,
            mode="history",
            transport=transport,
            progress=again_progress,
        )
    assert first == {"created": 10_000, "duplicates": 0, "rejected": 0}
    assert again == {"created": 0, "duplicates": 10_000, "rejected": 0}
    lines = first_progress.getvalue().splitlines()
    assert len(lines) == 20
    assert lines[0].startswith("baton import: 500/10000 rows (5%)")
    assert lines[-1] == "baton import: 10000/10000 rows (100%): 10000 created, 0 already there, 0 rejected"
    assert await _leads_from(db, tag) == 10_000


async def test_live_rows_are_announced_history_rows_are_not_and_bad_rows_say_why(
    db: Database, settings_env: Infra
) -> None:
    tag = uuid.uuid4().hex[:8]
    body = "\r\n".join(
        [
            "Lead ID,Email Address,Phone,Company,Employees",
            f"A-1,ana-{tag}@import.example,,Ana Co,50-200",
            "A-2,,+44 20 7946 0958,Bo Co,10",
            "A-3,,,Nobody Co,5",
            f"A-4,not-an-email-{tag},,Bad Co,5",
        ]
    )
    params = [("map", "Email Address=email"), ("map", "Phone=phone"), ("map", "Company=company")]
    async with ingest_client(create_app()) as http:
        live = await http.post(
            "/v1/imports",
            content=body,
            params=[*params, ("mode", "live"), ("id_column", "Lead ID")],
            headers={**MARKETING, "content-type": "text/csv"},
        )
        history = await http.post(
            "/v1/imports",
            content=body.replace("A-", "H-").replace(f"-{tag}@", f"-h{tag}@"),
            params=[*params, ("mode", "history"), ("id_column", "Lead ID")],
            headers={**MARKETING, "content-type": "text/csv"},
        )
        bad_map = await http.post(
            "/v1/imports",
            content=body,
            params=[("map", "Email Address")],
            headers={**MARKETING, "content-type": "text/csv"},
        )
    assert live.status_code == history.status_code == 200, (live.text, history.text)
    result = live.json()
    assert [(r["row"], r["status"]) for r in result["rows"]] == [
        (1, "created"), (2, "created"), (3, "rejected"), (4, "rejected"),
    ]  # fmt: skip
    assert "phone" in result["rows"][2]["errors"][0]["msg"]
    assert result["rows"][3]["errors"][0]["loc"] == ["email"]
    assert bad_map.status_code == 422

    announced = [
        e
        for e in await staged(db, "lead.ingested")
        if isinstance(e, LeadIngested) and e.payload.source == "import"
    ]
    ids = {str(e.event_id) for e in announced}
    assert {r["event_id"] for r in result["rows"][:2]} <= ids
    ana = next(e for e in announced if e.payload.email == f"ana-{tag}@import.example")
    assert ana.payload.external_id == "A-1"
    assert ana.payload.attributes["Employees"] == "50-200"
    assert all(r["event_id"] is None for r in history.json()["rows"])
    assert not [e for e in announced if e.payload.email == f"ana-h{tag}@import.example"]
