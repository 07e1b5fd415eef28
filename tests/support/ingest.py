"""Helpers for ingest's integration tests: a client from a chosen address,
form configuration, and the events staged in ingest's outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from shared.auth import Role
from shared.contracts import AnyEvent, decode_event
from shared.db import Database
from tests.conftest import bearer

MARKETING = bearer(Role.MARKETING)
ADMIN = bearer(Role.ADMIN)
BROWSER = ("203.0.113.7", 50000)


@asynccontextmanager
async def ingest_client(
    app: FastAPI, *, client: tuple[str, int] = BROWSER
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan, and a client whose requests come from `client` (a browser's
    address by default, so rate limits apply as they would in production)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def configure_form(http: httpx.AsyncClient, form_id: str, **config: Any) -> dict[str, Any]:
    response = await http.post(
        "/v1/forms", json={"id": form_id, "name": form_id, **config}, headers=MARKETING
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def staged(db: Database, event_type: str | None = None) -> list[AnyEvent]:
    """The events ingest staged in its outbox, in order."""
    async with db.transaction() as session:
        rows = (await session.execute(text("SELECT value FROM ingest.outbox ORDER BY id"))).scalars().all()
    events = [decode_event(bytes(row)) for row in rows]
    return [e for e in events if event_type is None or e.event_type == event_type]
